// Package promptset is activation patching over many prompts: a set of
// clean/corrupted pairs (read from JSONL or generated: IOI, factual recall),
// each pair swept in turn and averaged cell by cell, with the spread, and
// Gaussian-noise corruption averaged over seeds. Memory stays flat in the
// number of pairs: a pair's runs are dropped once its values are added.
package promptset

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/patchlab/patchlab/model/analysis"
)

// Pair is one prompt of a set: analysis.Request's fields, and for
// generated pairs the template it came from (e.g. "ABBA").
type Pair struct {
	analysis.Request
	Template string `json:"template,omitempty"`
	// Problem is why the pair could not be read (its JSONL line is not a
	// pair); such a pair is reported and skipped.
	Problem string `json:"-"`
}

// ReadJSONL reads one pair a line, {"clean": …, "corrupted": …,
// "clean_target": …, "corrupted_target": …}; blank lines are skipped. A line
// that is not such an object becomes a pair with its Problem set, so that
// the rest still run.
func ReadJSONL(r io.Reader) ([]Pair, error) {
	var out []Pair
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var p Pair
		if err := json.Unmarshal([]byte(text), &p); err != nil {
			p = Pair{Problem: fmt.Sprintf("line %d is not a JSON object with clean, corrupted, clean_target and corrupted_target: %v", line, err)}
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no pairs: the file has no lines of JSON")
	}
	return out, nil
}
