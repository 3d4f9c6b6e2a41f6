package survey

// This file holds Pulse's built-in question bank.
//
// Every statement is original to Pulse. None of them copies Gallup Q12 wording or
// the wording of any other published scale. Each one is short, plain, first
// person and present tense, and is about one idea only. Employees rate it from
// 1 = strongly disagree to 5 = strongly agree. Every item is worded so that 5 is
// the favourable answer, which means scores can be averaged without reversing
// any of them.
//
// The model follows the "ladder" reading of Self-Determination Theory: Purpose
// comes first, then Mastery, then Autonomy. Engagement and intent to stay are the
// outcomes. Each dimension has exactly one core item, which is asked every round
// so that trends stay comparable. The other items rotate across rounds, facet by
// facet.

// Dimensions of the Pulse model.
const (
	DimPurpose    = "purpose"
	DimMastery    = "mastery"
	DimAutonomy   = "autonomy"
	DimEngagement = "engagement"
)

// Purpose facets.
const (
	FacetMission    = "mission"    // a shared "why"
	FacetFit        = "fit"        // how my work fits in
	FacetVision     = "vision"     // belief in the vision
	FacetConnection = "connection" // connection to the team
)

// Mastery facets.
const (
	FacetTraining   = "training"   // training
	FacetCoaching   = "coaching"   // one-on-one coaching
	FacetGrowth     = "growth"     // learning new skills
	FacetMistakes   = "mistakes"   // mistakes treated as learning
	FacetCompetence = "competence" // feeling competent
	FacetDelegation = "delegation" // being trusted with delegated work
)

// Autonomy facets.
const (
	FacetSchedule        = "schedule"        // when I work
	FacetMethod          = "method"          // how I work
	FacetLocation        = "location"        // where I work
	FacetIdeas           = "ideas"           // freedom to develop my own solutions
	FacetMicromanagement = "micromanagement" // absence of micromanagement (items are positively keyed)
)

// Engagement (outcome) facets.
const (
	FacetEngagement   = "engagement"
	FacetIntentToStay = "intent_to_stay"
)

// BankItem is one built-in question of Pulse's question bank.
type BankItem struct {
	Key       string // stable identifier, e.g. "purpose.mission.1"; never reuse or renumber
	Dimension string // one of the Dim* constants
	Facet     string // one of the Facet* constants of that dimension
	Text      string
	Core      bool // asked every round for trend continuity; exactly one per dimension
}

var dimensionOrder = []string{DimPurpose, DimMastery, DimAutonomy, DimEngagement}

var dimensionFacets = map[string][]string{
	DimPurpose:    {FacetMission, FacetFit, FacetVision, FacetConnection},
	DimMastery:    {FacetTraining, FacetCoaching, FacetGrowth, FacetMistakes, FacetCompetence, FacetDelegation},
	DimAutonomy:   {FacetSchedule, FacetMethod, FacetLocation, FacetIdeas, FacetMicromanagement},
	DimEngagement: {FacetEngagement, FacetIntentToStay},
}

var dimensionLabels = map[string]string{
	DimPurpose:    "Purpose",
	DimMastery:    "Mastery",
	DimAutonomy:   "Autonomy",
	DimEngagement: "Engagement",
}

var facetLabels = map[string]string{
	FacetMission:         "Shared mission",
	FacetFit:             "How my work fits",
	FacetVision:          "Belief in the vision",
	FacetConnection:      "Connection to team",
	FacetTraining:        "Training",
	FacetCoaching:        "One-on-one coaching",
	FacetGrowth:          "Learning new skills",
	FacetMistakes:        "Learning from mistakes",
	FacetCompetence:      "Feeling competent",
	FacetDelegation:      "Trusted with delegated work",
	FacetSchedule:        "Choice of schedule",
	FacetMethod:          "Choice of method",
	FacetLocation:        "Choice of location",
	FacetIdeas:           "Freedom to develop ideas",
	FacetMicromanagement: "Absence of micromanagement",
	FacetEngagement:      "Engagement",
	FacetIntentToStay:    "Intent to stay",
}

// Dimensions returns the dimensions in ladder order: purpose, mastery,
// autonomy, engagement. The returned slice is a fresh copy.
func Dimensions() []string {
	return append([]string(nil), dimensionOrder...)
}

// ValidDimension reports whether d is one of the Dim* constants.
func ValidDimension(d string) bool {
	_, ok := dimensionFacets[d]
	return ok
}

// FacetsOf returns the facets of dimension dim in canonical order, or nil if dim
// is not a valid dimension. The returned slice is a fresh copy.
func FacetsOf(dim string) []string {
	fs, ok := dimensionFacets[dim]
	if !ok {
		return nil
	}
	return append([]string(nil), fs...)
}

// ValidFacet reports whether facet belongs to dimension dim.
func ValidFacet(dim, facet string) bool {
	for _, f := range dimensionFacets[dim] {
		if f == facet {
			return true
		}
	}
	return false
}

// DimensionLabel returns the human label of dimension d ("Purpose", ...), or d
// itself if d is unknown.
func DimensionLabel(d string) string {
	if l, ok := dimensionLabels[d]; ok {
		return l
	}
	return d
}

// FacetLabel returns a short human label for facet f, or f itself if f is
// unknown.
func FacetLabel(f string) string {
	if l, ok := facetLabels[f]; ok {
		return l
	}
	return f
}

// builtinBank is ordered by dimension (ladder order), then by facet (the order
// of FacetsOf), then by key number. Keys are stable: when an item is retired,
// its key must never be given to a different statement, and the remaining items
// must not be renumbered.
var builtinBank = []BankItem{
	// Purpose
	{Key: "purpose.mission.1", Dimension: DimPurpose, Facet: FacetMission, Core: true,
		Text: "I have a clear sense of purpose in the work I do here."},
	{Key: "purpose.mission.2", Dimension: DimPurpose, Facet: FacetMission,
		Text: "I can explain in my own words why our organization exists."},
	{Key: "purpose.mission.3", Dimension: DimPurpose, Facet: FacetMission,
		Text: "I know what difference our organization is trying to make."},
	{Key: "purpose.fit.1", Dimension: DimPurpose, Facet: FacetFit,
		Text: "I can connect what I do each day to what our organization is trying to achieve."},
	{Key: "purpose.fit.2", Dimension: DimPurpose, Facet: FacetFit,
		Text: "I know who benefits when I do my job well."},
	{Key: "purpose.fit.3", Dimension: DimPurpose, Facet: FacetFit,
		Text: "My role has a clear place in the bigger picture here."},
	{Key: "purpose.vision.1", Dimension: DimPurpose, Facet: FacetVision,
		Text: "I believe in where our organization is heading."},
	{Key: "purpose.vision.2", Dimension: DimPurpose, Facet: FacetVision,
		Text: "The future our leaders describe is one I want to help build."},
	{Key: "purpose.connection.1", Dimension: DimPurpose, Facet: FacetConnection,
		Text: "I feel part of a team that is working toward the same goal."},
	{Key: "purpose.connection.2", Dimension: DimPurpose, Facet: FacetConnection,
		Text: "My teammates and I agree on what we are trying to achieve."},
	{Key: "purpose.connection.3", Dimension: DimPurpose, Facet: FacetConnection,
		Text: "My team feels like a group I belong to."},

	// Mastery
	{Key: "mastery.training.1", Dimension: DimMastery, Facet: FacetTraining,
		Text: "The training available to me prepares me well for my work."},
	{Key: "mastery.training.2", Dimension: DimMastery, Facet: FacetTraining,
		Text: "When my work changes, I get the training I need to keep up."},
	{Key: "mastery.coaching.1", Dimension: DimMastery, Facet: FacetCoaching,
		Text: "I get regular one-on-one time with someone who helps me improve."},
	{Key: "mastery.coaching.2", Dimension: DimMastery, Facet: FacetCoaching,
		Text: "The feedback I get in one-on-one conversations helps me do better work."},
	{Key: "mastery.growth.1", Dimension: DimMastery, Facet: FacetGrowth, Core: true,
		Text: "Working here helps me become better at what I do."},
	{Key: "mastery.growth.2", Dimension: DimMastery, Facet: FacetGrowth,
		Text: "I am learning new skills in my current role."},
	{Key: "mastery.growth.3", Dimension: DimMastery, Facet: FacetGrowth,
		Text: "I have time at work to learn things that make me better at my job."},
	{Key: "mastery.mistakes.1", Dimension: DimMastery, Facet: FacetMistakes,
		Text: "When I make a mistake, the focus is on what we can learn from it."},
	{Key: "mastery.mistakes.2", Dimension: DimMastery, Facet: FacetMistakes,
		Text: "I can own up to a mistake here without worrying about blame."},
	{Key: "mastery.competence.1", Dimension: DimMastery, Facet: FacetCompetence,
		Text: "I handle the main parts of my job with confidence."},
	{Key: "mastery.competence.2", Dimension: DimMastery, Facet: FacetCompetence,
		Text: "I have the skills my current work calls for."},
	{Key: "mastery.delegation.1", Dimension: DimMastery, Facet: FacetDelegation,
		Text: "I am trusted to take on work that matters."},
	{Key: "mastery.delegation.2", Dimension: DimMastery, Facet: FacetDelegation,
		Text: "When my manager hands work over to me, they trust me to see it through."},

	// Autonomy
	{Key: "autonomy.schedule.1", Dimension: DimAutonomy, Facet: FacetSchedule,
		Text: "I can arrange my working hours in a way that suits me."},
	{Key: "autonomy.schedule.2", Dimension: DimAutonomy, Facet: FacetSchedule,
		Text: "I can plan my day in the order that works best for me."},
	{Key: "autonomy.method.1", Dimension: DimAutonomy, Facet: FacetMethod, Core: true,
		Text: "I have enough freedom in my job to do my best work."},
	{Key: "autonomy.method.2", Dimension: DimAutonomy, Facet: FacetMethod,
		Text: "I decide how to go about my own tasks."},
	{Key: "autonomy.method.3", Dimension: DimAutonomy, Facet: FacetMethod,
		Text: "I can change the way I work when I see a better approach."},
	{Key: "autonomy.location.1", Dimension: DimAutonomy, Facet: FacetLocation,
		Text: "I have a say in where I do my work."},
	{Key: "autonomy.location.2", Dimension: DimAutonomy, Facet: FacetLocation,
		Text: "I can work from the place where I get the most done."},
	{Key: "autonomy.ideas.1", Dimension: DimAutonomy, Facet: FacetIdeas,
		Text: "I am free to try out my own solutions to problems."},
	{Key: "autonomy.ideas.2", Dimension: DimAutonomy, Facet: FacetIdeas,
		Text: "When I have an idea for improving our work, I get room to develop it."},
	{Key: "autonomy.micromanagement.1", Dimension: DimAutonomy, Facet: FacetMicromanagement,
		Text: "I can get on with my work without being checked on all the time."},
	{Key: "autonomy.micromanagement.2", Dimension: DimAutonomy, Facet: FacetMicromanagement,
		Text: "My manager trusts me to get my work done without close supervision."},

	// Engagement (outcomes)
	{Key: "engagement.engagement.1", Dimension: DimEngagement, Facet: FacetEngagement, Core: true,
		Text: "Overall, I feel motivated by the work I do here."},
	{Key: "engagement.engagement.2", Dimension: DimEngagement, Facet: FacetEngagement,
		Text: "I put real effort into my work because I care about it."},
	{Key: "engagement.engagement.3", Dimension: DimEngagement, Facet: FacetEngagement,
		Text: "I am happy to tell people where I work."},
	{Key: "engagement.intent_to_stay.1", Dimension: DimEngagement, Facet: FacetIntentToStay,
		Text: "I want to build the next part of my career here."},
	{Key: "engagement.intent_to_stay.2", Dimension: DimEngagement, Facet: FacetIntentToStay,
		Text: "I want to keep working here for a good while longer."},
	{Key: "engagement.intent_to_stay.3", Dimension: DimEngagement, Facet: FacetIntentToStay,
		Text: "I see my future with this organization."},
}

// BuiltinBank returns a copy of the built-in question bank.
func BuiltinBank() []BankItem {
	return append([]BankItem(nil), builtinBank...)
}
