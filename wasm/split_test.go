package main

import (
	"context"
	"reflect"
	"testing"

	"github.com/patchlab/patchlab/model/patch"
)

// sweepAll is every cell of a site of e's started analysis, as the page gets them.
func sweepAll(t *testing.T, e *Engine, site string) []byte {
	t.Helper()
	var out []byte
	err := e.Sweep(context.Background(), site, "denoise", true, []int{0, 1, 2, 3}, func(_ int, cells []patch.Cell) {
		out = append(out, EncodeCells(cells)...)
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Two engines that run one text each and swap the runs start the same
// analysis, to the bit, as one engine running both.
func TestStartHalfJoin(t *testing.T) {
	whole, a, b := tinyEngine(t), tinyEngine(t), tinyEngine(t)
	want, err := whole.Start(michelle)
	if err != nil {
		t.Fatal(err)
	}
	clean, err := a.StartHalf(michelle, "clean")
	if err != nil {
		t.Fatal(err)
	}
	corrupted, err := b.StartHalf(michelle, "corrupted")
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range []struct {
		e     *Engine
		other []byte
	}{{a, corrupted}, {b, clean}} {
		got, err := j.e.Join(michelle, j.other)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("joined baseline %+v, want %+v", got, want)
		}
		if !reflect.DeepEqual(j.e.an.Session.Clean, whole.an.Session.Clean) || !reflect.DeepEqual(j.e.an.Session.Corrupted, whole.an.Session.Corrupted) {
			t.Error("the joined runs differ from Start's")
		}
		for _, site := range []string{"resid_post", "attn_out"} {
			if g, w := sweepAll(t, j.e, site), sweepAll(t, whole, site); !reflect.DeepEqual(g, w) {
				t.Errorf("%s: the joined analysis sweeps other bits than Start's", site)
			}
		}
	}
	// Started already: the runs held, and nothing computed again.
	if again, err := a.StartHalf(michelle, "clean"); err != nil || !reflect.DeepEqual(again, clean) {
		t.Errorf("StartHalf of the texts started: %d bytes, %v; want the clean run's %d", len(again), err, len(clean))
	}
	if got, err := a.Join(michelle, nil); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Join of the texts started: %v", err)
	}
	c := tinyEngine(t)
	if _, err := c.StartHalf(michelle, "clean"); err != nil {
		t.Fatal(err)
	}
	other := michelle
	other.Clean = "Michelle Jones was a top-notch student. Jones"
	if _, err := c.Join(other, corrupted); err == nil {
		t.Error("Join took other texts than those started")
	}
	if _, err := c.Join(michelle, clean[:len(clean)-4]); err == nil {
		t.Error("Join took a run cut short")
	}
}
