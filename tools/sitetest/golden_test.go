package sitetest

import "github.com/patchlab/patchlab/model/fixture"

// goldenFile is the fixture's golden cases.
type goldenFile []fixture.Case

func readGolden() (goldenFile, error) { return fixture.Golden() }

func (g goldenFile) find(name string) fixture.Case {
	c, ok := fixture.Find(g, name)
	if !ok {
		panic("no golden case " + name)
	}
	return c
}
