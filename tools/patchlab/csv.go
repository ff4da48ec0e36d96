package main

import (
	"encoding/csv"
	"io"
	"strconv"
)

// writeCSV writes a view as CSV: a header row "layer,<column labels…>",
// then one row per matrix row, its label first. Values keep 9 significant
// digits, which is every digit of a float32.
func writeCSV(w io.Writer, v view) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(append([]string{"layer"}, v.colLabels...)); err != nil {
		return err
	}
	for r, row := range v.vals {
		rec := []string{v.rowLabels[r]}
		for _, x := range row {
			rec = append(rec, strconv.FormatFloat(x, 'g', 9, 64))
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
