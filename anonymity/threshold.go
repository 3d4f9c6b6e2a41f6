package anonymity

// The minimum group size k of an organisation and its programs.
const (
	// DefaultK is the minimum group size a new organisation starts with.
	DefaultK = 5
	// MinK is the floor: k can never be set below it.
	MinK = 3
)

// CommentThreshold is how many respondents of its own a unit needs before
// its comments are shown: 2k, because a comment's wording identifies more
// than a number does (docs/ANONYMITY.md section 3).
func CommentThreshold(k int) int { return 2 * k }

// ShowInvited reports whether a unit's number of invitees may be shown.
func ShowInvited(invited, k int) bool { return invited >= k }

// ShowComments reports whether a unit's comments may be shown: the unit's
// results are published and its own respondents (not those of the units
// below it) number at least CommentThreshold(k). Each unit's comment set is
// its own respondents', so sets never overlap and no difference of shown
// sets can single out fewer respondents than a set holds.
func ShowComments(published bool, ownRespondents, k int) bool {
	return published && ownRespondents >= CommentThreshold(k)
}
