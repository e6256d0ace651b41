package report

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot/vg"
	vgdraw "gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/tideline-sim/tideline/runner"
	"github.com/tideline-sim/tideline/scenarios"
)

// pixels decodes a PNG into RGBA bytes, whatever colour model it was
// written in.
func pixels(t *testing.T, encoded []byte) *image.RGBA {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(encoded))
	require.NoError(t, err)
	out := image.NewRGBA(img.Bounds())
	draw.Draw(out, out.Bounds(), img, img.Bounds().Min, draw.Src)
	return out
}

func TestEncodedPNGDecodesToTheSamePixels(t *testing.T) {
	for name, alpha := range map[string]uint8{"opaque, written as RGB": 255, "translucent, left to image/png": 128} {
		t.Run(name, func(t *testing.T) {
			// A sub-image, so that rows start away from the buffer's start.
			whole := image.NewRGBA(image.Rect(0, 0, 37, 23))
			for i := range whole.Pix {
				whole.Pix[i] = uint8(i*7 + i/11)
			}
			for i := 3; i < len(whole.Pix); i += 4 {
				whole.Pix[i] = 255
			}
			whole.Pix[len(whole.Pix)-1] = alpha
			img := whole.SubImage(image.Rect(3, 2, 37, 23)).(*image.RGBA)
			var b bytes.Buffer
			require.NoError(t, encodePNG(&b, img))
			got := pixels(t, b.Bytes())
			want := image.NewRGBA(image.Rect(0, 0, 34, 21))
			draw.Draw(want, want.Bounds(), img, img.Bounds().Min, draw.Src)
			if alpha < 255 {
				// image/png writes translucent pixels unpremultiplied,
				// which rounds: compare with its own round trip.
				var plain bytes.Buffer
				require.NoError(t, png.Encode(&plain, img))
				want = pixels(t, plain.Bytes())
			}
			assert.Equal(t, want.Bounds(), got.Bounds())
			assert.True(t, bytes.Equal(want.Pix, got.Pix), "pixels differ")
		})
	}
}

// opaqueToType hides a canvas's type, so drawGrid cannot tell it starts
// white and paints each panel's background as on an SVG.
type opaqueToType struct{ vg.CanvasSizer }

func TestRasterPanelsSkipTheirWhiteBackgroundAndNoPixelChanges(t *testing.T) {
	sc, err := scenarios.Builtin("leader-crash")
	require.NoError(t, err)
	res, err := runner.Run(sc, runner.Options{Seed: 1})
	require.NoError(t, err)
	render := func(hide bool) []byte {
		w, h, draw := stacked(availabilityPanels(res))
		img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(plotDPI), vgimg.UseBackgroundColor(color.White))
		var c vg.CanvasSizer = img
		if hide {
			c = opaqueToType{img}
		}
		draw(vgdraw.New(c))
		return img.Image().(*image.RGBA).Pix
	}
	assert.True(t, bytes.Equal(render(false), render(true)), "skipping the panels' background changed the picture")
}
