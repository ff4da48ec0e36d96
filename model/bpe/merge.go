package bpe

// longWord is the length (in bytes) from which a piece is merged with the heap
// instead of by rescanning; the two take about as long at ~16 bytes.
const longWord = 20

// merge applies the BPE merges to w, the one-byte token ids of a piece, and
// returns the result (in w's memory). As in OpenAI's encoder.py, the pair of
// adjacent tokens with the lowest rank is merged everywhere it occurs, left to
// right without overlap ("a a a" -> "aa a"), and this repeats until no
// adjacent pair has a rank.
func (v *vocab) merge(w []int32) []int32 {
	if len(w) >= longWord {
		return v.mergeLong(w)
	}
	for len(w) > 1 {
		best := merge{rank: -1}
		var left, right int32
		for i := 0; i+1 < len(w); i++ {
			if m, ok := v.pair(w[i], w[i+1]); ok && (best.rank < 0 || m.rank < best.rank) {
				best, left, right = m, w[i], w[i+1]
			}
		}
		if best.rank < 0 {
			break
		}
		j := 0
		for i := 0; i < len(w); i++ {
			if i+1 < len(w) && w[i] == left && w[i+1] == right {
				w[j] = best.id
				i++
			} else {
				w[j] = w[i]
			}
			j++
		}
		w = w[:j]
	}
	return w
}

// mergeLong gives the same result as the loop in merge in O(n log n) rather
// than O(n²) time, for long pieces (a megabyte without a space is one piece).
// The tokens form a linked list; a min-heap holds candidate pairs ordered by
// (rank, position). All candidates of the lowest rank are taken together, in
// position order, which is exactly one left-to-right pass of merge; the pairs
// that the pass creates are pushed only after it. Candidates whose pair has
// changed since they were pushed are skipped when popped.
func (v *vocab) mergeLong(w []int32) []int32 {
	next := make([]int32, len(w)) // index of the next live token, or -1
	prev := make([]int32, len(w)) // index of the previous live token, or -1
	h := pairHeap(make([]candidate, 0, len(w)))
	for i := range w {
		next[i], prev[i] = int32(i+1), int32(i-1)
		if i+1 < len(w) {
			if m, ok := v.pair(w[i], w[i+1]); ok {
				h = append(h, candidate{m.rank, int32(i)})
			}
		}
	}
	next[len(w)-1] = -1
	h.init()

	var merged []int32
	for len(h) > 0 {
		rank := h[0].rank
		merged = merged[:0]
		for len(h) > 0 && h[0].rank == rank {
			i := h.pop().pos
			j := next[i]
			if w[i] < 0 || j < 0 {
				continue // i was merged into its left neighbour, or is last
			}
			m, ok := v.pair(w[i], w[j])
			if !ok || m.rank != rank {
				continue // stale: a rank names one pair, and this is no longer it
			}
			w[i], w[j] = m.id, -1
			next[i] = next[j]
			if next[j] >= 0 {
				prev[next[j]] = i
			}
			merged = append(merged, i)
		}
		for _, i := range merged {
			if p := prev[i]; p >= 0 {
				if m, ok := v.pair(w[p], w[i]); ok {
					h.push(candidate{m.rank, p})
				}
			}
			if j := next[i]; j >= 0 {
				if m, ok := v.pair(w[i], w[j]); ok {
					h.push(candidate{m.rank, i})
				}
			}
		}
	}

	out := w[:0] // token 0 is never merged away, and writes trail reads
	for i := int32(0); i >= 0; i = next[i] {
		out = append(out, w[i])
	}
	return out
}

// candidate is a pair of adjacent tokens: the one at pos and the next one.
type candidate struct{ rank, pos int32 }

// pairHeap is a binary min-heap of candidates by (rank, pos).
type pairHeap []candidate

func (h pairHeap) less(i, j int) bool {
	return h[i].rank < h[j].rank || h[i].rank == h[j].rank && h[i].pos < h[j].pos
}

func (h pairHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h *pairHeap) push(c candidate) {
	*h = append(*h, c)
	for i := len(*h) - 1; i > 0; {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			break
		}
		(*h)[i], (*h)[parent] = (*h)[parent], (*h)[i]
		i = parent
	}
}

func (h *pairHeap) pop() candidate {
	old := *h
	top := old[0]
	last := len(old) - 1
	old[0] = old[last]
	*h = old[:last]
	h.down(0)
	return top
}

func (h pairHeap) down(i int) {
	for {
		child := 2*i + 1
		if child >= len(h) {
			return
		}
		if child+1 < len(h) && h.less(child+1, child) {
			child++
		}
		if !h.less(child, i) {
			return
		}
		h[i], h[child] = h[child], h[i]
		i = child
	}
}
