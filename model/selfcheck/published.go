package selfcheck

import (
	"math"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/gpt2"
)

// Published is GPT-2 small as the assignment that started this project
// publishes it (../shared/seed/assignment.md, "Analysis Example"): the 20
// most probable next tokens after "Michelle Jones was a top-notch student.
// Michelle", with their token indices and probabilities to 4 decimals, and
// the shape of the resid_post heatmap of logit(" Smith") − logit(" Jones")
// when "Michelle Smith …" is patched with "Michelle Jones …", as its text
// describes the figure.
var Published = Expectation{
	Source: "the published GPT-2 small numbers (the assignment's Michelle Jones example)",
	Config: gpt2.Small,
	Request: analysis.Request{
		Clean:           "Michelle Jones was a top-notch student. Michelle",
		Corrupted:       "Michelle Smith was a top-notch student. Michelle",
		CleanTarget:     " Jones",
		CorruptedTarget: " Smith",
	},
	Tokens: 11, // "both inputs have 11 tokens"
	// The assignment's table, row for row. It prints the tokens without
	// their leading space; here they are as GPT-2's vocabulary has them.
	Top: []Row{
		{1, 373, " was", 0.1634},
		{2, 5437, " Jones", 0.1396},
		{3, 338, "'s", 0.0806},
		{4, 550, " had", 0.0491},
		{5, 318, " is", 0.0229},
		{6, 290, " and", 0.0227},
		{7, 11, ",", 0.0222},
		{8, 531, " said", 0.0134},
		{9, 468, " has", 0.0120},
		{10, 635, " also", 0.0117},
		{11, 1625, " came", 0.0091},
		{12, 1297, " told", 0.0084},
		{13, 1422, " didn", 0.0070},
		{14, 2993, " knew", 0.0067},
		{15, 1816, " went", 0.0061},
		{16, 561, " would", 0.0061},
		{17, 3111, " worked", 0.0055},
		{18, 750, " did", 0.0054},
		{19, 2486, " Obama", 0.0053},
		{20, 2492, " wasn", 0.0050},
	},
	// "we expect the probability of 'Jones' … to be much lower, while the
	// probability of 'Smith' will be much higher, which indeed happens"; the
	// figure darkens where "the logit difference between 'Smith' and 'Jones'
	// becomes negative because 'Jones' has a higher logit".
	Prefer: true,
	// The cells are in units of the way from the corrupted run (0) to the
	// clean run (1). The published figure (matplotlib's matshow) spans about
	// that gap, from the corrupted run's value in the first column to the
	// darkest cells near the clean run's.
	Shape: []Assertion{
		{
			Says:   "the first column changes nothing (its tokens are the same in both texts)",
			Layers: Span{0, 11}, Positions: Span{0, 0}, Min: -1e-6, Max: 1e-6,
		},
		{
			// "intervening in the embeddings of many layers of the second
			// token shifts the prediction towards 'Jones'": at layers 0–3,
			// before the induction heads (layers 5–7 of GPT-2 small) have
			// copied the name to the last position, the name's own position
			// carries all of it. Half the way is a loose floor for "strongly".
			Says:   `the second column (" Jones"/" Smith") pulls strongly towards " Jones" in the early layers (0–3)`,
			Layers: Span{0, 3}, Positions: Span{1, 1}, Min: 0.5, Max: math.Inf(1),
		},
		{
			// "There also seem to be no changes when patching embeddings from
			// the third to the penultimate column." The margin, a fifth of
			// the gap: in the published figure, whose colours span about the
			// gap, a cell a fifth of the way would be a visible tint beside
			// the second column's, so these cells are below it; yet the
			// words after the name have read it (a previous-token head writes
			// " Jones" into " was"), and a few percent of effect from that
			// is real. Any wiring fault that moves the name (a causal mask
			// or a position off by one) puts most of the gap into one of
			// these columns, far beyond a fifth.
			Says:   "the third to the penultimate column (positions 2–9) stay near the corrupted run, within a fifth of the clean–corrupted gap",
			Layers: Span{0, 11}, Positions: Span{2, 9}, Min: -0.2, Max: 0.2,
		},
		{
			// "At the last position ('Michelle'), the embeddings of the final
			// layers seem to anticipate the token to predict." Layer 11's cell
			// is the clean run itself; layer 10's must already be past half.
			Says:   "the last column moves towards the clean run in the late layers (10–11)",
			Layers: Span{10, 11}, Positions: Span{10, 10}, Min: 0.5, Max: math.Inf(1),
		},
	},
}
