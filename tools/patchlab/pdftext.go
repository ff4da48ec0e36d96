package main

import (
	"golang.org/x/text/encoding/charmap"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
)

// pdfText writes a figure's text to a gonum PDF canvas, whose fonts take
// Windows-1252 bytes: passed UTF-8 as it is, "−", "→" or "é" come out as
// mojibake. Characters that code page lacks become "?"; SVG and PNG
// figures show every character.
type pdfText struct{ vg.CanvasWriterTo }

func (c pdfText) FillString(f font.Face, pt vg.Point, s string) {
	c.CanvasWriterTo.FillString(f, pt, toCP1252(s))
}

// toCP1252 encodes s in Windows-1252, after spelling out the few symbols the
// figures use that it lacks.
func toCP1252(s string) string {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		switch r {
		case '−':
			r = '-'
		case '→':
			out = append(out, "->"...)
			continue
		case 'Δ':
			r = 'D'
		case '␣':
			r = '_'
		}
		b, ok := charmap.Windows1252.EncodeRune(r)
		if !ok {
			b = '?'
		}
		out = append(out, b)
	}
	return string(out)
}
