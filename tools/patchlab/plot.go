package main

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/patchlab/patchlab/model/analysis"
)

// Figure size (report-sized) and PNG resolution.
const (
	figWidth  = 8 * vg.Inch
	figHeight = 5 * vg.Inch
	pngDPI    = 150
)

// figure is a view with its title lines and the colour bar's label.
type figure struct {
	view
	title    []string
	barLabel string
	cellText [][]string // written in the cells instead of the values, when set
	// width, height and dpi (the PNG's resolution) are the defaults above when 0.
	width, height vg.Length
	dpi           int
}

// size is the figure's size and PNG resolution.
func (fig figure) size() (w, h vg.Length, dpi int) {
	w, h, dpi = figWidth, figHeight, pngDPI
	if fig.width > 0 {
		w, h = fig.width, fig.height
	}
	if fig.dpi > 0 {
		dpi = fig.dpi
	}
	return w, h, dpi
}

// writeFigure draws fig in format (png, svg or pdf) to w.
func writeFigure(w io.Writer, format string, fig figure) error {
	width, height, dpi := fig.size()
	c, err := canvasFor(format, width, height, dpi)
	if err != nil {
		return err
	}
	drawFigure(draw.New(c), fig)
	_, err = c.WriteTo(w)
	return err
}

// canvasFor is a canvas of the format (png, svg or pdf) and size.
func canvasFor(format string, width, height vg.Length, dpi int) (vg.CanvasWriterTo, error) {
	var c vg.CanvasWriterTo
	switch format {
	case "png":
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(dpi))}
	case "svg":
		c = vgsvg.New(width, height)
	case "pdf":
		p := vgpdf.New(width, height)
		p.EmbedFonts(true)
		c = pdfText{p}
	default:
		return nil, fmt.Errorf("unknown figure format %q", format)
	}
	return c, nil
}

// figFont is the figures' typeface (plot's default is the serif one).
var figFont = font.Font{Typeface: "Liberation", Variant: "Sans"}

func style(size vg.Length) text.Style {
	return text.Style{Color: color.Black, Font: font.From(figFont, size), Handler: plot.DefaultTextHandler}
}

// drawFigure draws the title across the top, the heatmap (row 0 at the top,
// like matshow) and a colour bar on the right, centred at 0.
func drawFigure(dc draw.Canvas, fig figure) {
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	const pad = 8
	// Title.
	ts := style(11)
	ts.XAlign, ts.YAlign = draw.XCenter, draw.YTop
	lines := make([]string, len(fig.title))
	for i, l := range fig.title {
		lines[i] = fitWidth(ts, drawable(ts, l), dc.Max.X-dc.Min.X-2*pad)
	}
	title := strings.Join(lines, "\n")
	dc.FillText(ts, vg.Point{X: dc.Center().X, Y: dc.Max.Y - pad}, title)
	body := draw.Crop(dc, pad, -pad, pad, -(2*pad + ts.Height(title)))

	drawHeatmap(body, fig, 1.15*vg.Inch, 0.2*vg.Inch)
}

// drawHeatmap draws fig's cells into c, on a scale centred at 0 reaching
// the largest |value|, with the colour bar beside the data area and as tall
// as it: barRoom is the width the bar and its labels take, bar its gap from
// the grid and its own width.
func drawHeatmap(c draw.Canvas, fig figure, barRoom, bar vg.Length) {
	limit := 0.0
	for _, row := range fig.vals {
		for _, v := range row {
			if !math.IsNaN(v) {
				limit = max(limit, math.Abs(v))
			}
		}
	}
	if limit == 0 {
		limit = 1
	}
	p := heatmapPlot(fig)
	p.Add(&cells{fig: fig, limit: limit})
	grid := draw.Crop(c, 0, -barRoom, 0, 0)
	p.Draw(grid)
	da := p.DataCanvas(grid)
	drawColorBar(c, vg.Rectangle{Min: vg.Point{X: grid.Max.X + bar, Y: da.Min.Y}, Max: vg.Point{X: grid.Max.X + 2*bar, Y: da.Max.Y}}, limit, fig.barLabel)
}

// heatmapPlot sets up the axes: one unit per cell, rows downwards.
func heatmapPlot(fig figure) *plot.Plot {
	rows, cols := len(fig.vals), len(fig.colLabels)
	p := plot.New()
	p.X.Min, p.X.Max = -0.5, float64(cols)-0.5
	p.Y.Min, p.Y.Max = -float64(rows)+0.5, 0.5
	p.X.Padding, p.Y.Padding = 0, 0
	p.X.Label.Text, p.Y.Label.Text = fig.colTitle, fig.rowTitle
	p.X.Label.TextStyle, p.Y.Label.TextStyle = style(10), style(10)
	for _, l := range []*text.Style{&p.X.Label.TextStyle, &p.Y.Label.TextStyle} {
		l.XAlign, l.YAlign = draw.XCenter, draw.YBottom // the Y axis rotates its label itself
	}

	xs := style(9)
	xs.XAlign, xs.YAlign = draw.XCenter, draw.YTop
	widest := vg.Length(0)
	for _, l := range fig.colLabels {
		widest = max(widest, xs.Width(l))
	}
	if width, _, _ := fig.size(); widest > 0.9*(width-2.6*vg.Inch)/vg.Length(cols) {
		xs.Rotation = math.Pi / 4 // labels wider than their cells
		xs.XAlign = draw.XRight
	}
	p.X.Tick.Label = xs
	ys := style(9)
	ys.XAlign, ys.YAlign = draw.XRight, draw.YCenter
	p.Y.Tick.Label = ys
	p.X.Tick.Marker = labelTicks(fig.colLabels, 1, stride(cols, 30, 1), xs)
	p.Y.Tick.Marker = labelTicks(fig.rowLabels, -1, stride(rows, 30, fig.rowGroup), ys)
	return p
}

// stride is how often to label n ticks so that at most about most are
// labelled: every tick, else a multiple of group (when it is > 1), else
// every k-th.
func stride(n, most, group int) int {
	every := (n + most - 1) / most
	if every > 1 && group > 1 {
		every = (every + group - 1) / group * group
	}
	return every
}

// labelTicks puts every every-th label, labels[i] at sign·i.
func labelTicks(labels []string, sign float64, every int, sty text.Style) plot.Ticker {
	return plot.TickerFunc(func(_, _ float64) []plot.Tick {
		var ticks []plot.Tick
		for i := 0; i < len(labels); i += every {
			ticks = append(ticks, plot.Tick{Value: sign * float64(i), Label: drawable(sty, labels[i])})
		}
		return ticks
	})
}

// cells draws the matrix as coloured rectangles, with each value written in
// its cell when every value fits.
type cells struct {
	fig   figure
	limit float64
}

func (c *cells) Plot(dc draw.Canvas, p *plot.Plot) {
	x, y := p.Transforms(&dc)
	vs := style(7.5)
	vs.XAlign, vs.YAlign = draw.XCenter, draw.YCenter
	cw, ch := x(1)-x(0), y(0)-y(-1)
	annotate := ch >= vs.Height("0")*1.3
	grid := draw.LineStyle{Color: color.Gray{Y: 200}, Width: 0.4}
	label := func(r, col int, v float64) string { return cellValue(v) }
	if c.fig.cellText != nil {
		vs = style(6.5)
		vs.XAlign, vs.YAlign = draw.XCenter, draw.YCenter
		label = func(r, col int, _ float64) string { return fitWidth(vs, drawable(vs, c.fig.cellText[r][col]), cw-4) }
	}
	for r, row := range c.fig.vals {
		for col, v := range row {
			annotate = annotate && vs.Width(label(r, col, v)) <= cw-4
		}
	}
	for r, row := range c.fig.vals {
		for col, v := range row {
			x0, x1 := x(float64(col)-0.5), x(float64(col)+0.5)
			y0, y1 := y(-float64(r)-0.5), y(-float64(r)+0.5)
			fill := diverging(v / c.limit)
			box := []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}, {X: x0, Y: y0}}
			dc.FillPolygon(fill, box[:4])
			if cw >= 6 && ch >= 6 {
				dc.StrokeLines(grid, box)
			}
			if annotate {
				vs.Color = color.Black
				if luminance(fill) < 0.45 {
					vs.Color = color.White
				}
				dc.FillText(vs, vg.Point{X: (x0 + x1) / 2, Y: (y0 + y1) / 2}, label(r, col, v))
			}
		}
	}
}

func cellValue(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return ""
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// drawColorBar draws the palette from −limit (bottom) to +limit (top) in
// rect, with numbered ticks and label on its right.
func drawColorBar(dc draw.Canvas, rect vg.Rectangle, limit float64, label string) {
	const steps = 200
	h := rect.Max.Y - rect.Min.Y
	for i := range steps {
		y0 := rect.Min.Y + h*vg.Length(i)/steps
		y1 := rect.Min.Y + h*vg.Length(i+1)/steps + 0.3 // overlap: no hairline gaps
		v := (float64(i)+0.5)/steps*2 - 1
		dc.FillPolygon(diverging(v), []vg.Point{{X: rect.Min.X, Y: y0}, {X: rect.Max.X, Y: y0}, {X: rect.Max.X, Y: min(y1, rect.Max.Y)}, {X: rect.Min.X, Y: min(y1, rect.Max.Y)}})
	}
	line := draw.LineStyle{Color: color.Black, Width: 0.5}
	dc.StrokeLines(line, []vg.Point{rect.Min, {X: rect.Max.X, Y: rect.Min.Y}, rect.Max, {X: rect.Min.X, Y: rect.Max.Y}, rect.Min})
	ts := style(9)
	ts.XAlign, ts.YAlign = draw.XLeft, draw.YCenter
	widest := vg.Length(0)
	step := niceStep(limit / 4)
	for k := -math.Floor(limit / step); k*step <= limit; k++ {
		v := k * step
		label := strconv.FormatFloat(v, 'g', 4, 64)
		y := rect.Min.Y + h*vg.Length((v+limit)/(2*limit))
		dc.StrokeLine2(line, rect.Max.X, y, rect.Max.X+3, y)
		dc.FillText(ts, vg.Point{X: rect.Max.X + 5, Y: y}, label)
		widest = max(widest, ts.Width(label))
	}
	ls := style(10)
	ls.Rotation = math.Pi / 2
	ls.XAlign, ls.YAlign = draw.XCenter, draw.YTop
	dc.FillText(ls, vg.Point{X: rect.Max.X + 5 + widest + 4, Y: (rect.Min.Y + rect.Max.Y) / 2}, fitWidth(ls, drawable(ls, label), h))
}

// niceStep rounds x up to 1, 2, 2.5 or 5 times a power of ten.
func niceStep(x float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*p >= x*0.999 {
			return m * p
		}
	}
	return 10 * p
}

// rdBu is ColorBrewer's RdBu with a white centre, from −1 (blue) to +1 (red).
var rdBu = []color.RGBA{
	{5, 48, 97, 255}, {33, 102, 172, 255}, {67, 147, 195, 255}, {146, 197, 222, 255}, {209, 229, 240, 255},
	{255, 255, 255, 255},
	{253, 219, 199, 255}, {244, 165, 130, 255}, {214, 96, 77, 255}, {178, 24, 43, 255}, {103, 0, 31, 255},
}

// diverging maps t in [−1, 1] to the palette (clamped); NaN is grey.
func diverging(t float64) color.Color {
	if math.IsNaN(t) {
		return color.RGBA{160, 160, 160, 255}
	}
	f := (max(-1, min(1, t)) + 1) / 2 * float64(len(rdBu)-1)
	i := min(int(f), len(rdBu)-2)
	u := f - float64(i)
	a, b := rdBu[i], rdBu[i+1]
	mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x)*(1-u) + float64(y)*u)) }
	return color.RGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 255}
}

func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	return (0.2126*float64(r) + 0.7152*float64(g) + 0.0722*float64(b)) / 0xffff
}

// drawable makes s printable in one line with sty's font: control
// characters escaped, characters the font lacks shown as "?".
func drawable(sty text.Style, s string) string {
	face := font.DefaultCache.Lookup(sty.Font, sty.Font.Size)
	var b strings.Builder
	for _, r := range analysis.OneLine(s) {
		if idx, err := face.Face.GlyphIndex(nil, r); err != nil || idx == 0 {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// fitWidth shortens s with "…" until it fits in width.
func fitWidth(sty text.Style, s string, width vg.Length) string {
	if sty.Width(s) <= width {
		return s
	}
	r := []rune(s)
	for len(r) > 1 && sty.Width(string(r)+"…") > width {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}
