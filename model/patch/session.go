// Package patch is activation patching: run a clean and a corrupted text,
// then re-run the corrupted one with one activation at a time replaced by
// the clean run's, and measure how the prediction moves.
package patch

import (
	"fmt"

	"github.com/patchlab/patchlab/model/gpt2"
)

// LengthError is returned when the two texts have different token counts.
type LengthError struct{ Clean, Corrupted int }

func (e *LengthError) Error() string {
	return fmt.Sprintf("the clean text has %d tokens and the corrupted text %d: patching needs the same count", e.Clean, e.Corrupted)
}

// Session holds the two unpatched runs of an analysis; sweeps of any site
// reuse them.
type Session struct {
	Model                        *gpt2.Model
	CleanIDs, CorruptedIDs       []int
	CleanTarget, CorruptedTarget int
	// Clean and Corrupted are the traces of the unpatched runs.
	Clean, Corrupted *gpt2.Trace
	// CleanLogits and CorruptedLogits are the last position's logits.
	CleanLogits, CorruptedLogits []float32
	// CleanBase and CorruptedBase are the unpatched runs as cells.
	CleanBase, CorruptedBase Cell
	// FirstDiff is the first position where the two runs differ (T if
	// none): where the texts differ, or the first noised position.
	FirstDiff int
	// Noise, when the corruption is Gaussian noise (NewNoiseSession), is
	// what the corrupted run adds to the clean text's embedding, [T][Width];
	// CorruptedIDs are then the clean ones. Nil for a corrupted text.
	Noise []float32
}

// NewSession checks the inputs and runs both texts, recording every activation.
func NewSession(m *gpt2.Model, clean, corrupted []int, cleanTarget, corruptedTarget int) (*Session, error) {
	if err := checkSession(m, clean, corrupted, cleanTarget, corruptedTarget); err != nil {
		return nil, err
	}
	cleanLogits, cleanTr, err := m.Forward(clean, nil, true)
	if err != nil {
		return nil, fmt.Errorf("clean text: %w", err)
	}
	corruptedLogits, corruptedTr, err := m.Forward(corrupted, nil, true)
	if err != nil {
		return nil, fmt.Errorf("corrupted text: %w", err)
	}
	return SessionOf(m, clean, corrupted, cleanTarget, corruptedTarget, Run{cleanLogits, cleanTr}, Run{corruptedLogits, corruptedTr})
}

// Run is one unpatched run: its last position's logits and its trace, as
// gpt2.Model.Forward(ids, nil, true) returns them.
type Run struct {
	Logits []float32
	Trace  *gpt2.Trace
}

// SessionOf is NewSession from runs done already (elsewhere: the page's
// workers run one text each and swap them), the same bits as NewSession's.
func SessionOf(m *gpt2.Model, clean, corrupted []int, cleanTarget, corruptedTarget int, cleanRun, corruptedRun Run) (*Session, error) {
	if err := checkSession(m, clean, corrupted, cleanTarget, corruptedTarget); err != nil {
		return nil, err
	}
	for _, r := range []Run{cleanRun, corruptedRun} {
		if r.Trace == nil || r.Trace.T != len(clean) || len(r.Logits) != m.Vocab {
			return nil, fmt.Errorf("a run of %d tokens was expected", len(clean))
		}
	}
	s := &Session{Model: m, CleanIDs: clean, CorruptedIDs: corrupted, CleanTarget: cleanTarget, CorruptedTarget: corruptedTarget,
		CleanLogits: cleanRun.Logits, Clean: cleanRun.Trace, CorruptedLogits: corruptedRun.Logits, Corrupted: corruptedRun.Trace}
	s.CleanBase = s.cellOf(s.CleanLogits, true)
	s.CorruptedBase = s.cellOf(s.CorruptedLogits, true)
	s.FirstDiff = len(clean)
	for i := range clean {
		if clean[i] != corrupted[i] {
			s.FirstDiff = i
			break
		}
	}
	return s, nil
}

func checkSession(m *gpt2.Model, clean, corrupted []int, cleanTarget, corruptedTarget int) error {
	if len(clean) != len(corrupted) {
		return &LengthError{len(clean), len(corrupted)}
	}
	for _, t := range []int{cleanTarget, corruptedTarget} {
		if t < 0 || t >= m.Vocab {
			return fmt.Errorf("target token %d is outside the vocabulary (0…%d)", t, m.Vocab-1)
		}
	}
	return nil
}

func (s *Session) cellOf(logits []float32, probs bool) Cell {
	c := Cell{Clean: logits[s.CleanTarget], Corrupted: logits[s.CorruptedTarget], LSE: nan}
	if probs {
		c.LSE = LogSumExp(logits)
	}
	return c
}

// T is the number of tokens of each text.
func (s *Session) T() int { return len(s.CleanIDs) }
