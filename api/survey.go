package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/pulse-survey/pulse/survey"
)

// Employees' survey routes. They set no cookies, need none, and are logged
// without IP, user agent, request id or time (see anonymousRoute).

// maxSurveyBody bounds issuance and ballot requests.
const maxSurveyBody = 64 << 10

// scaleLabels are the words of the 1-5 agreement scale.
var scaleLabels = [5]string{"Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree"}

type surveyQuestion struct {
	ID        uint
	Text      string
	Dimension string
}

type surveyPageView struct {
	OrgName       string
	RoundID       uint
	UnitID        uint
	KeyID         string
	ManifestHash  string
	State         string // open or issued
	Closed        bool
	ClosesAt      string
	Questions     []surveyQuestion
	Scale         [5]string
	MaxComment    int
	AnonymityPage string
}

func (s *Server) surveyPage(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	v, err := s.svc.Rounds.SurveyBySecret(c.Request().Context(), c.Param("secret"))
	if errors.Is(err, survey.ErrNotFound) {
		return c.Render(http.StatusNotFound, "survey_invalid.html", s.page(c, "Link not valid", nil))
	}
	if err != nil {
		return err
	}
	view := surveyPageView{OrgName: v.OrgName, RoundID: v.Round.ID, UnitID: v.UnitID, KeyID: v.KeyID,
		ManifestHash: v.ManifestHash, State: "open", Scale: scaleLabels, MaxComment: survey.MaxCommentRunes,
		Closed:   v.Round.Status != survey.RoundOpen || !s.now().Before(v.Round.ClosesAt),
		ClosesAt: v.Round.ClosesAt.In(v.Location).Format("Monday 2 January")}
	if v.TokenIssued {
		view.State = "issued"
	}
	for _, q := range v.Questions {
		view.Questions = append(view.Questions, surveyQuestion{ID: q.QuestionID, Text: q.Text, Dimension: q.Dimension})
	}
	return c.Render(http.StatusOK, "survey.html", s.page(c, "Your pulse", view))
}

// LinkHeader carries the invitation link's secret on manifest requests.
const LinkHeader = "X-Pulse-Link"

func (s *Server) surveyManifest(c echo.Context) error {
	id, err := strconv.ParseUint(c.Param("round"), 10, 32)
	if err != nil {
		return survey.ErrNotFound
	}
	// Only for a holder of one of the round's links (the survey page sends
	// its own): the manifest names teams and their sizes.
	b, sum, err := s.svc.Rounds.ManifestForLink(c.Request().Context(), uint(id), c.Request().Header.Get(LinkHeader))
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("X-Pulse-Manifest-SHA256", sum)
	h.Set("Cache-Control", "no-cache")
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, b)
}

// decodeStrict reads one JSON object into v: the right content type, no
// unknown fields, nothing after it, within maxSurveyBody.
func decodeStrict(c echo.Context, v any) error {
	mt, _, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if err != nil || mt != echo.MIMEApplicationJSON {
		return echo.NewHTTPError(http.StatusUnsupportedMediaType, "Send the request as application/json.")
	}
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxSurveyBody+1))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The request body could not be read.")
	}
	if len(body) > maxSurveyBody {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("The request is larger than %d KB.", maxSurveyBody>>10))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The request is not valid JSON for this endpoint: "+jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return echo.NewHTTPError(http.StatusBadRequest, "The request has data after the JSON object.")
	}
	return nil
}

// jsonProblem describes a decoding error without echoing input back.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d.", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q has the wrong type.", te.Field)
	case errors.Is(err, io.EOF):
		return "the body is empty."
	}
	if msg := err.Error(); len(msg) > 20 && msg[:20] == "json: unknown field " {
		return "unknown field " + msg[20:] + "."
	}
	return "malformed JSON."
}

type issueRequest struct {
	Secret     string `json:"secret"`
	BlindedMsg string `json:"blinded_msg"`
}

func (s *Server) surveyIssue(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	var req issueRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	if req.Secret == "" {
		return &survey.ValidationError{Fields: map[string]string{"secret": "send the secret of your survey link"}}
	}
	blinded, err := survey.DecodeB64(req.BlindedMsg)
	if err != nil {
		return &survey.ValidationError{Fields: map[string]string{"blinded_msg": "send the blinded message as base64url"}}
	}
	sig, err := s.svc.Rounds.IssueToken(c.Request().Context(), req.Secret, blinded)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"blind_sig": survey.EncodeB64(sig)})
}

// ballotRequest is a ballot: the token, and the ballot sealed to the
// round's box key (base64url). Answers and comment in clear are taken only
// by rounds launched before sealed ballots.
type ballotRequest struct {
	KeyID     string         `json:"key_id"`
	Message   string         `json:"message"`
	Signature string         `json:"signature"`
	Sealed    string         `json:"sealed"`
	Answers   map[string]int `json:"answers"`
	Comment   string         `json:"comment"`
}

func (s *Server) surveyBallot(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	var req ballotRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	msg, err1 := survey.DecodeB64(req.Message)
	sig, err2 := survey.DecodeB64(req.Signature)
	if err1 != nil || err2 != nil {
		return &survey.ValidationError{Fields: map[string]string{"token": "message and signature must be base64url"}}
	}
	var sealed []byte
	if req.Sealed != "" {
		if sealed, err1 = survey.DecodeB64(req.Sealed); err1 != nil {
			return &survey.ValidationError{Fields: map[string]string{"sealed": "send the sealed ballot as base64url"}}
		}
	}
	var answers map[uint]int
	if req.Answers != nil {
		answers = make(map[uint]int, len(req.Answers))
	}
	for k, v := range req.Answers {
		id, err := strconv.ParseUint(k, 10, 32)
		if err != nil || strconv.FormatUint(id, 10) != k {
			return &survey.ValidationError{Fields: map[string]string{"answers": fmt.Sprintf("%q is not a question id", k)}}
		}
		answers[uint(id)] = v
	}
	err := s.svc.Rounds.SubmitBallot(c.Request().Context(), survey.BallotInput{KeyID: req.KeyID, Message: msg,
		Signature: sig, Sealed: sealed, Answers: answers, Comment: req.Comment})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]string{"status": "accepted"})
}
