package report

import (
	"bytes"
	"image"
	"image/color"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// A scatter that gives gonum only its edge glyphs must be laid out
// exactly as one that gives every glyph: points on the axes' ends, beyond
// them, tied, on a log scale.
func TestEdgeGlyphsPadAsEveryGlyphDoes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for trial := range 21 {
		// The last, with the largest glyphs: the top-most point is above
		// the axis, and gonum must pad for the next one down, on the
		// axis's end.
		xys := plotter.XYs{{X: 5, Y: 30}, {X: 5, Y: 20}, {X: 0, Y: 5}, {X: 10, Y: 5}, {X: 5, Y: 1}}
		if trial < 20 {
			xys = make(plotter.XYs, 1+rng.IntN(40))
			for i := range xys {
				xys[i] = plotter.XY{X: float64(rng.IntN(12)) - 1, Y: 0.05 + float64(rng.IntN(50))}
			}
		}
		dataArea := func(edges bool) vg.Rectangle {
			p := plot.New()
			p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{}
			sc, err := plotter.NewScatter(xys)
			require.NoError(t, err)
			sc.GlyphStyle.Radius, sc.GlyphStyle.Shape = vg.Points(1.2+float64(trial)), draw.BoxGlyph{}
			if edges {
				p.Add(&boxScatter{Scatter: sc})
			} else {
				p.Add(sc)
			}
			// Axes narrower than the data (Add widens them to it).
			p.X.Min, p.X.Max = 0, 10
			p.Y.Min, p.Y.Max = 0.1, 20
			img := vgimg.NewWith(vgimg.UseWH(4*vg.Inch, 3*vg.Inch), vgimg.UseDPI(plotDPI))
			return p.DataCanvas(draw.New(img)).Rectangle
		}
		assert.Equal(t, dataArea(false), dataArea(true), "trial %d: the edge glyphs padded the plot otherwise", trial)
	}
}

// Squares apart from each other are drawn as gonum's scatter draws them,
// to the pixel, whichever path they share; those off the canvas not at all.
func TestBoxScatterDrawsWhatScatterDraws(t *testing.T) {
	var xys plotter.XYs
	for i := range 100 {
		xys = append(xys, plotter.XY{X: float64(i%10) + 0.37*float64(i/10%3), Y: float64(i / 10)})
	}
	xys = append(xys, plotter.XY{X: -1.3, Y: 3}, plotter.XY{X: 4, Y: 11.3}) // just off the axes
	render := func(boxes bool) []byte {
		p := plot.New()
		sc, err := plotter.NewScatter(xys)
		require.NoError(t, err)
		sc.GlyphStyle.Color, sc.GlyphStyle.Radius, sc.GlyphStyle.Shape = palette[0], vg.Points(1.7), draw.BoxGlyph{}
		if boxes {
			p.Add(&boxScatter{Scatter: sc})
		} else {
			p.Add(sc)
		}
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = -1, 11, -1, 11
		img := vgimg.NewWith(vgimg.UseWH(6*vg.Inch, 4*vg.Inch), vgimg.UseDPI(plotDPI), vgimg.UseBackgroundColor(color.White))
		p.Draw(draw.New(img))
		return img.Image().(*image.RGBA).Pix
	}
	assert.True(t, bytes.Equal(render(false), render(true)), "the squares were drawn otherwise")
}

func TestEdgeGlyphsFollowTheAxes(t *testing.T) {
	sc, err := plotter.NewScatter(plotter.XYs{{X: 1, Y: 1}, {X: 5, Y: 5}, {X: 9, Y: 9}})
	require.NoError(t, err)
	edges := &boxScatter{Scatter: sc}
	p := plot.New()
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 10, 0, 10
	centres := func() (xy [][2]float64) {
		for _, b := range edges.GlyphBoxes(p) {
			xy = append(xy, [2]float64{b.X, b.Y})
		}
		return xy
	}
	assert.Equal(t, [][2]float64{{0.1, 0.1}, {0.9, 0.9}, {0.1, 0.1}, {0.9, 0.9}}, centres())
	p.X.Max, p.Y.Max = 6, 6 // the point at 9 is now off the axes
	assert.Equal(t, [][2]float64{{1.0 / 6, 1.0 / 6}, {5.0 / 6, 5.0 / 6}, {1.0 / 6, 1.0 / 6}, {5.0 / 6, 5.0 / 6}}, centres())
}
