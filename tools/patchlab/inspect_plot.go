package main

import (
	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/patchlab/patchlab/model/analysis"
)

// inspectFigure is one of inspect's figures: the name it adds to the file
// name, and how to draw it on a figure-sized canvas.
type inspectFigure struct {
	name string
	draw func(dc draw.Canvas)
}

// write draws the figure in format (png, svg or pdf) to w, at the size and
// resolution of sweep's figures.
func (f inspectFigure) write(w io.Writer, format string) error {
	var c vg.CanvasWriterTo
	switch format {
	case "png":
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(figWidth, figHeight), vgimg.UseDPI(pngDPI))}
	case "svg":
		c = vgsvg.New(figWidth, figHeight)
	case "pdf":
		p := vgpdf.New(figWidth, figHeight)
		p.EmbedFonts(true)
		c = pdfText{p}
	default:
		return fmt.Errorf("unknown figure format %q", format)
	}
	f.draw(draw.New(c))
	_, err := c.WriteTo(w)
	return err
}

// figures lists every figure: per run, the attribution, the logit lens and
// one attention grid per layer.
func (in *inspection) figures() []inspectFigure {
	var out []inspectFigure
	for _, r := range in.runs() {
		text := fmt.Sprintf("%s: %q", r.name, in.text(r.name))
		lens := figure{view: in.lensView(r), barLabel: in.metric(), cellText: in.top1Text(r),
			title: []string{"Logit lens: " + in.metric() + " read after each layer; in each cell the layer's top-1 token", text}}
		out = append(out,
			inspectFigure{"dla_" + r.name, func(dc draw.Canvas) { in.drawDLA(dc, r, text) }},
			inspectFigure{lens.name, func(dc draw.Canvas) { drawFigure(dc, lens) }})
		for l := range r.attn {
			out = append(out, inspectFigure{fmt.Sprintf("attn_pattern_%s-L%d", r.name, l), func(dc draw.Canvas) { drawAttention(dc, r, l, text) }})
		}
	}
	return out
}

func (in *inspection) text(run string) string {
	if run == "clean" {
		return in.a.Clean
	}
	return in.a.Corrupted
}

// drawTitle writes centred title lines across the top and returns the canvas below them.
func drawTitle(dc draw.Canvas, lines ...string) draw.Canvas {
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	const pad = 8
	ts := style(11)
	ts.XAlign, ts.YAlign = draw.XCenter, draw.YTop
	y := dc.Max.Y - pad
	for _, l := range lines {
		dc.FillText(ts, vg.Point{X: dc.Center().X, Y: y}, fitWidth(ts, drawable(ts, l), dc.Max.X-dc.Min.X-2*pad))
		y -= ts.Height(l)
	}
	return draw.Crop(dc, pad, -pad, pad, y-dc.Max.Y-pad)
}

// drawDLA draws a run's attribution: the components as horizontal bars on
// the left (the total, the run's metric, last), the heads as a layers ×
// heads heatmap on the right.
func (in *inspection) drawDLA(dc draw.Canvas, r runViews, text string) {
	body := drawTitle(dc, "Direct logit attribution of "+in.metric()+" at the last position", text)
	d := r.dla
	labels := []string{"embed"}
	vals := []float64{d.Embed}
	for l := range d.AttnOut {
		labels = append(labels, fmt.Sprintf("attn %d", l), fmt.Sprintf("mlp %d", l))
		vals = append(vals, d.AttnOut[l], d.MLPOut[l])
	}
	labels = append(labels, "ln_f bias", "total")
	vals = append(vals, d.LNFinalBias, d.Total)

	split := body.Min.X + 0.52*(body.Max.X-body.Min.X)
	left := body
	left.Max.X = split
	p := plot.New()
	limit := 0.0
	for _, v := range vals {
		limit = max(limit, math.Abs(v))
	}
	limit = max(limit, 1e-9)
	p.X.Min, p.X.Max = -1.15*limit, 1.15*limit
	p.Y.Min, p.Y.Max = -float64(len(vals))+0.5, 0.5
	p.X.Padding, p.Y.Padding = 0, 0
	p.X.Label.Text = "contribution (the bars sum to total)"
	p.X.Label.TextStyle = style(9)
	p.X.Tick.Label = style(8)
	ys := style(8)
	ys.XAlign, ys.YAlign = draw.XRight, draw.YCenter
	p.Y.Tick.Label = ys
	p.Y.Tick.Marker = labelTicks(labels, -1, stride(len(labels), 40, 1), ys)
	p.Add(&hbars{vals: vals, limit: limit})
	p.Draw(left)

	right := body
	right.Min.X = split + 0.15*vg.Inch
	drawHeatmap(right, figure{view: in.headsView(r), barLabel: "heads' contributions"}, 0.9*vg.Inch, 0.15*vg.Inch)
}

// hbars draws one horizontal bar per value, row i at y = −i, coloured on the
// diverging scale; the last bar (the total) is outlined, with a rule above it.
type hbars struct {
	vals  []float64
	limit float64
}

func (b *hbars) Plot(dc draw.Canvas, p *plot.Plot) {
	x, y := p.Transforms(&dc)
	line := draw.LineStyle{Color: color.Black, Width: 0.5}
	vs := style(6.5)
	vs.YAlign = draw.YCenter
	for i, v := range b.vals {
		y0, y1 := y(-float64(i)-0.38), y(-float64(i)+0.38)
		x0, x1 := x(0), x(v)
		box := []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}
		dc.FillPolygon(diverging(v/b.limit), box)
		if i == len(b.vals)-1 {
			dc.StrokeLines(line, append(box, box[0]))
			dc.StrokeLine2(draw.LineStyle{Color: color.Gray{Y: 120}, Width: 0.5, Dashes: []vg.Length{2, 2}}, dc.Min.X, y(-float64(i)+0.5), dc.Max.X, y(-float64(i)+0.5))
		}
		if y1-y0 >= vs.Height("0") {
			vs.XAlign, x1 = draw.XLeft, x1+2
			if v < 0 {
				vs.XAlign, x1 = draw.XRight, x1-4
			}
			dc.FillText(vs, vg.Point{X: x1, Y: (y0 + y1) / 2}, cellValue(v))
		}
	}
	dc.StrokeLine2(line, x(0), dc.Min.Y, x(0), dc.Max.Y)
}

// drawAttention draws layer l's heads of one run as a grid of query × key
// patterns on one scale, 0 (white) to 1 (dark red); positions a query
// cannot read (later ones) are grey. The query tokens label the rows of the
// left column, the key tokens the columns of the bottom row.
func drawAttention(dc draw.Canvas, r runViews, l int, text string) {
	body := drawTitle(dc, fmt.Sprintf("Attention patterns, layer %d: query (row) reading key (column)", l), text)
	heads := r.attn[l]
	t := len(r.tokens)
	labels := analysis.PositionLabels(r.tokens, nil)
	ls := style(6)
	widest := vg.Length(0)
	for _, s := range labels {
		widest = max(widest, ls.Width(drawable(ls, s)))
	}
	widest = min(widest, 1.1*vg.Inch)
	const gap, barW = 0.12 * vg.Inch, 0.9 * vg.Inch
	hs := style(8)
	// Choose the columns that give the largest square panels.
	w, h := body.Max.X-body.Min.X-widest-barW, body.Max.Y-body.Min.Y-widest
	cols, size := 1, vg.Length(0)
	for c := 1; c <= len(heads); c++ {
		rows := (len(heads) + c - 1) / c
		s := min((w-vg.Length(c-1)*gap)/vg.Length(c), (h-vg.Length(rows)*(gap+hs.Height("H")))/vg.Length(rows))
		if s > size {
			cols, size = c, s
		}
	}
	rows := (len(heads) + cols - 1) / cols
	cell := size / vg.Length(t)
	every := stride(t, max(1, int(float64(cell*vg.Length(t))/float64(ls.Height("M")*1.1))), 1)
	// Centre the grid and its colour bar.
	used := widest + 4 + vg.Length(cols)*size + vg.Length(cols-1)*gap + barW
	x0 := body.Min.X + max(0, (body.Max.X-body.Min.X-used)/2) + widest + 4
	top := body.Max.Y
	grey := color.Gray{Y: 225}
	for hd, pat := range heads {
		row, col := hd/cols, hd%cols
		px := x0 + vg.Length(col)*(size+gap)
		py := top - vg.Length(row)*(size+gap+hs.Height("H")) - hs.Height("H") // the panel's top
		hs.XAlign, hs.YAlign = draw.XCenter, draw.YBottom
		dc.FillText(hs, vg.Point{X: px + size/2, Y: py + 1}, fmt.Sprintf("H%d", hd))
		for q := range t {
			for k := range t {
				fill := color.Color(grey)
				if k <= q {
					fill = diverging(float64(pat[q][k]))
				}
				cx, cy := px+vg.Length(k)*cell, py-vg.Length(q+1)*cell
				dc.FillPolygon(fill, []vg.Point{{X: cx, Y: cy}, {X: cx + cell + 0.2, Y: cy}, {X: cx + cell + 0.2, Y: cy + cell + 0.2}, {X: cx, Y: cy + cell + 0.2}})
			}
		}
		edge := draw.LineStyle{Color: color.Gray{Y: 150}, Width: 0.4}
		dc.StrokeLines(edge, []vg.Point{{X: px, Y: py}, {X: px + size, Y: py}, {X: px + size, Y: py - size}, {X: px, Y: py - size}, {X: px, Y: py}})
		if col == 0 {
			ls.XAlign, ls.YAlign, ls.Rotation = draw.XRight, draw.YCenter, 0
			for q := 0; q < t; q += every {
				dc.FillText(ls, vg.Point{X: px - 2, Y: py - (vg.Length(q)+0.5)*cell}, fitWidth(ls, drawable(ls, labels[q]), widest))
			}
		}
		if row == rows-1 || hd+cols >= len(heads) {
			ls.XAlign, ls.YAlign, ls.Rotation = draw.XRight, draw.YCenter, math.Pi/2
			for k := 0; k < t; k += every {
				dc.FillText(ls, vg.Point{X: px + (vg.Length(k)+0.5)*cell, Y: py - size - 2}, fitWidth(ls, drawable(ls, labels[k]), widest))
			}
		}
	}
	gridRight := x0 + vg.Length(cols)*size + vg.Length(cols-1)*gap
	barTop := top - hs.Height("H")
	bar := vg.Rectangle{Min: vg.Point{X: gridRight + 0.2*vg.Inch, Y: barTop - vg.Length(rows)*size - vg.Length(rows-1)*(gap+hs.Height("H"))}, Max: vg.Point{X: gridRight + 0.35*vg.Inch, Y: barTop}}
	drawUnitBar(dc, bar, "attention probability")
}

// drawUnitBar draws the palette's upper half, 0 (white, bottom) to 1, in
// rect, with ticks and label on its right.
func drawUnitBar(dc draw.Canvas, rect vg.Rectangle, label string) {
	const steps = 100
	h := rect.Max.Y - rect.Min.Y
	for i := range steps {
		y0 := rect.Min.Y + h*vg.Length(i)/steps
		y1 := min(rect.Min.Y+h*vg.Length(i+1)/steps+0.3, rect.Max.Y)
		dc.FillPolygon(diverging((float64(i)+0.5)/steps), []vg.Point{{X: rect.Min.X, Y: y0}, {X: rect.Max.X, Y: y0}, {X: rect.Max.X, Y: y1}, {X: rect.Min.X, Y: y1}})
	}
	line := draw.LineStyle{Color: color.Black, Width: 0.5}
	dc.StrokeLines(line, []vg.Point{rect.Min, {X: rect.Max.X, Y: rect.Min.Y}, rect.Max, {X: rect.Min.X, Y: rect.Max.Y}, rect.Min})
	ts := style(8)
	ts.XAlign, ts.YAlign = draw.XLeft, draw.YCenter
	for _, v := range []float64{0, 0.25, 0.5, 0.75, 1} {
		y := rect.Min.Y + h*vg.Length(v)
		dc.StrokeLine2(line, rect.Max.X, y, rect.Max.X+3, y)
		dc.FillText(ts, vg.Point{X: rect.Max.X + 5, Y: y}, fmt.Sprint(v))
	}
	ls := style(9)
	ls.Rotation = math.Pi / 2
	ls.XAlign, ls.YAlign = draw.XCenter, draw.YTop
	dc.FillText(ls, vg.Point{X: rect.Max.X + 5 + ts.Width("0.75") + 4, Y: (rect.Min.Y + rect.Max.Y) / 2}, label)
}
