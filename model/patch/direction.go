package patch

import "fmt"

// Direction is which run a sweep patches and which run gives the activation.
type Direction uint8

const (
	// Denoise patches the corrupted run with one activation of the clean
	// run: is that activation sufficient to restore the clean answer?
	Denoise Direction = iota
	// Noise patches the clean run with one activation of the corrupted run:
	// is that activation necessary for the clean answer?
	Noise
)

var directionNames = [...]string{Denoise: "denoise", Noise: "noise"}

func (d Direction) String() string {
	if int(d) < len(directionNames) {
		return directionNames[d]
	}
	return fmt.Sprintf("Direction(%d)", d)
}

// ParseDirection reads "denoise" or "noise".
func ParseDirection(s string) (Direction, error) {
	for d, n := range directionNames {
		if n == s {
			return Direction(d), nil
		}
	}
	return 0, fmt.Errorf("unknown direction %q (want denoise or noise)", s)
}

// Field is the JSON record's field for the site's matrix in direction d:
// patch_* for denoising (golden.json's names), noise_* for noising
// (views-golden.json's).
func (e *Spec) FieldFor(d Direction) string {
	if d == Noise {
		return e.NoiseField
	}
	return e.Field
}
