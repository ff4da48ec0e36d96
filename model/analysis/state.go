package analysis

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
)

// State is what a shared link carries: the request, the site and the metric.
type State struct {
	Request
	Site   string `json:"site"`
	Metric string `json:"metric"`
}

// MaxStateText bounds each text a link may carry, so a hostile link cannot
// make the page tokenize megabytes before the user sees anything.
const MaxStateText = 8192

// Link parameter names.
const (
	keyClean, keyCorrupted, keyCleanTarget, keyCorruptedTarget, keySite, keyMetric = "clean", "corrupted", "ct", "xt", "site", "metric"
)

// DefaultState is the assignment's Michelle example.
func DefaultState() State {
	return State{
		Request: Request{
			Clean:           "Michelle Jones was a top-notch student. Michelle",
			Corrupted:       "Michelle Smith was a top-notch student. Michelle",
			CleanTarget:     " Jones",
			CorruptedTarget: " Smith",
		},
		Site: "resid_post", Metric: "logit_diff",
	}
}

// ParseState reads a link's query string (with or without a leading ? or #).
// Missing fields keep the defaults; a malformed field is an error that names
// it, and the defaults are returned with it.
func ParseState(query string) (State, error) {
	st := DefaultState()
	q, err := url.ParseQuery(strings.TrimLeft(query, "?#"))
	if err != nil {
		return st, fmt.Errorf("the link's parameters are malformed: %v", err)
	}
	for key, dst := range map[string]*string{
		keyClean: &st.Clean, keyCorrupted: &st.Corrupted, keyCleanTarget: &st.CleanTarget,
		keyCorruptedTarget: &st.CorruptedTarget, keySite: &st.Site, keyMetric: &st.Metric,
	} {
		vs, ok := q[key]
		if !ok {
			continue
		}
		v := vs[0]
		switch {
		case len(v) > MaxStateText:
			return DefaultState(), fmt.Errorf("the link's %q parameter is %d bytes, more than %d", key, len(v), MaxStateText)
		case !utf8.ValidString(v):
			return DefaultState(), fmt.Errorf("the link's %q parameter is not valid UTF-8", key)
		}
		*dst = v
	}
	if err := checkSite(st.Site); err != nil {
		return DefaultState(), fmt.Errorf("the link's site: %w", err)
	}
	if _, err := patch.ParseMetric(st.Metric); err != nil {
		return DefaultState(), fmt.Errorf("the link's metric: %w", err)
	}
	return st, nil
}

func checkSite(s string) error {
	if s == "z_per_position" {
		return nil
	}
	_, err := gpt2.ParseSiteKind(s)
	return err
}

// ParseSite reads a sweep site name: a site kind, or z_per_position.
func ParseSite(s string) (patch.Site, error) {
	if s == "z_per_position" {
		return patch.Site{Kind: gpt2.Z, PerPosition: true}, nil
	}
	k, err := gpt2.ParseSiteKind(s)
	return patch.Site{Kind: k}, err
}

// Encode writes the state as a query string (without the leading ?).
func (st State) Encode() string {
	v := url.Values{}
	v.Set(keyClean, st.Clean)
	v.Set(keyCorrupted, st.Corrupted)
	v.Set(keyCleanTarget, st.CleanTarget)
	v.Set(keyCorruptedTarget, st.CorruptedTarget)
	v.Set(keySite, st.Site)
	v.Set(keyMetric, st.Metric)
	return v.Encode()
}
