package main

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"time"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
	"github.com/patchlab/patchlab/model/report"
	"github.com/patchlab/patchlab/model/tensor"
)

// KitRequest is what the page asks the report kit of: the heatmap it
// shows (a view of analysis.Heatmaps, in a metric) and the metric of the
// JSON record, which is the page's JSON export's (logit_diff when a sweep
// lacks the probabilities the shown metric needs).
type KitRequest struct {
	View         string `json:"view"`
	Metric       string `json:"metric"`
	RecordMetric string `json:"record_metric"`
}

// KitFile is a file of the kit the page made: the heatmap drawn, as
// heatmap.png and heatmap.svg.
type KitFile struct {
	Name string
	Data []byte
}

// kitFigure is the kit's one heatmap: the files' name without extension.
const kitFigure = "heatmap"

// kitDPI is the print resolution the page draws the PNG at (1890 pixels
// for 16 cm), which the kit's PNG states in its pHYs chunk.
const kitDPI = 300

// ReportKit is the report kit of the started analysis as a zip archive:
// the page's figures (heatmap.png, heatmap.svg), the text model/report
// writes for the CLI's sweep -report (tables.md, tables.tex, heatmap.txt,
// heatmap.tex) and record.json, the very bytes of the JSON export (Record).
func (e *Engine) ReportKit(sweeps []SiteCells, req KitRequest, figures []KitFile) ([]byte, error) {
	if e.an == nil {
		return nil, errors.New("no analysis is started")
	}
	kit, recJSON, err := e.kit(sweeps, req)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	add := func(name string, data []byte, method uint16) error {
		w, err := z.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: time.Now()})
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	for _, f := range figures {
		switch f.Name {
		case kitFigure + ".png":
			png, err := withDPI(f.Data, kitDPI)
			if err != nil {
				return nil, err
			}
			err = add(f.Name, png, zip.Store) // already compressed
			if err != nil {
				return nil, err
			}
		case kitFigure + ".svg":
			if err := add(f.Name, f.Data, zip.Deflate); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("report kit: no figure is called %q (want %s.png or %s.svg)", f.Name, kitFigure, kitFigure)
		}
	}
	for _, f := range kit.Files() {
		if err := add(f.Name, []byte(f.Text), zip.Deflate); err != nil {
			return nil, err
		}
	}
	if err := add("record.json", recJSON, zip.Deflate); err != nil {
		return nil, err
	}
	if err := z.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// kit is the report.Kit of the started analysis for the view req shows,
// and the JSON record it is made from.
func (e *Engine) kit(sweeps []SiteCells, req KitRequest) (report.Kit, []byte, error) {
	i := slices.IndexFunc(analysis.Heatmaps, func(h analysis.Heatmap) bool { return h.Name == req.View })
	if i < 0 {
		return report.Kit{}, nil, fmt.Errorf("report kit: unknown view %q", req.View)
	}
	view := analysis.Heatmaps[i]
	met, err := patch.ParseMetric(req.Metric)
	if err != nil {
		return report.Kit{}, nil, err
	}
	recJSON, err := e.Record(sweeps, req.RecordMetric)
	if err != nil {
		return report.Kit{}, nil, err
	}
	// The kit reads the record back from the bytes the zip holds, so that
	// its tables are those of record.json.
	rec := new(analysis.Record)
	if err := json.Unmarshal(recJSON, rec); err != nil {
		return report.Kit{}, nil, err
	}
	swept := func(name string) bool {
		return slices.ContainsFunc(sweeps, func(s SiteCells) bool { return s.Site == name })
	}
	// The view's own site is its last part (resid_post under embed).
	site, err := patch.ParseSite(view.Parts[len(view.Parts)-1])
	if err != nil {
		return report.Kit{}, nil, err
	}
	if !swept(site.String()) {
		return report.Kit{}, nil, fmt.Errorf("report kit: %s is not swept yet: run it first", site)
	}
	l := site.Layout(e.model.Config, len(rec.CleanTokens))
	h := report.Heatmap{File: kitFigure, Site: site, Rows: l.RowTitle, Cols: l.ColTitle,
		WithEmbed: site.Kind == gpt2.ResidPost && slices.Contains(view.Parts, "embed") && swept("embed")}
	direction := report.Denoising
	if rec.Direction == "noise" {
		direction = "noising"
	}
	return report.Kit{Record: rec, Model: report.ModelName(e.model.Config, codeBits(e.model)), Metric: met,
		Direction: direction, Heatmaps: []report.Heatmap{h}}, recJSON, nil
}

// codeBits is the model's code width, 0 for float32 (as the CLI's).
func codeBits(m *gpt2.Model) int {
	if q, ok := m.Blocks[0].FC.(*tensor.QN); ok {
		return q.Bits
	}
	return 0
}

// withDPI is a PNG with a pHYs chunk saying dpi (in pixels per metre),
// put right after IHDR, replacing any the PNG had.
func withDPI(png []byte, dpi float64) ([]byte, error) {
	const sig = "\x89PNG\r\n\x1a\n"
	if len(png) < 33 || string(png[:8]) != sig || string(png[12:16]) != "IHDR" {
		return nil, errors.New("report kit: heatmap.png is not a PNG")
	}
	chunk := func(typ string, data []byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
		b = append(append(b, typ...), data...)
		return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[4:]))
	}
	ppm := uint32(dpi/0.0254 + 0.5)
	phys := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, ppm), ppm)
	phys = append(phys, 1) // the unit is the metre
	out := append(append([]byte{}, png[:33]...), chunk("pHYs", phys)...)
	for off := 33; off < len(png); {
		if off+12 > len(png) || off+12+int(binary.BigEndian.Uint32(png[off:])) > len(png) {
			return nil, errors.New("report kit: heatmap.png is truncated")
		}
		end := off + 12 + int(binary.BigEndian.Uint32(png[off:]))
		if string(png[off+4:off+8]) != "pHYs" {
			out = append(out, png[off:end]...)
		}
		off = end
	}
	return out, nil
}
