package analysis

import (
	"strings"
	"testing"
)

func TestStateRoundTrip(t *testing.T) {
	st := DefaultState()
	st.Clean = "a & b = c? <img src=x onerror=alert(1)> #frag"
	st.Site, st.Metric = "z_per_position", "normalized"
	got, err := ParseState("?" + st.Encode())
	if err != nil || got != st {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
}

func TestStateErrors(t *testing.T) {
	for _, q := range []string{
		"site=nope", "metric=nope", "clean=%ff", "clean=" + strings.Repeat("a", MaxStateText+1), "clean=%zz",
	} {
		got, err := ParseState(q)
		if err == nil {
			t.Errorf("%q: want an error", q)
		}
		if got != DefaultState() {
			t.Errorf("%q: want the defaults with the error, got %+v", q, got)
		}
	}
	if got, err := ParseState(""); err != nil || got != DefaultState() {
		t.Errorf("empty link: %+v, %v", got, err)
	}
}

func FuzzParseState(f *testing.F) {
	f.Add(DefaultState().Encode())
	f.Add("clean=%E2%82&site=z&metric=prob_diff")
	f.Add("#ct=+Jones&xt=&&&=")
	f.Fuzz(func(t *testing.T, q string) {
		st, err := ParseState(q)
		if err != nil {
			return
		}
		again, err := ParseState(st.Encode())
		if err != nil || again != st {
			t.Fatalf("%q: parse(encode(s)) = %+v, %v; want %+v", q, again, err, st)
		}
	})
}
