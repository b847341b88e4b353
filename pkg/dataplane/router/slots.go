package router

import "slices"

// slotChunk is how many runtimes a chunk of a slotList holds.
const slotChunk = 64

// slotList holds the upstream runtimes of a state by slot (see reuse), a
// free slot nil, in chunks: a state with one upstream renewed copies one
// chunk and the list of chunks, not a word per upstream, and shares the
// rest with the state before it. A published list is never written.
type slotList struct {
	chunks [][]*upstreamRuntime
	n      int
}

// slotListOf numbers list's runtimes by their index.
func slotListOf(list []*upstreamRuntime) slotList {
	l := slotList{n: len(list)}
	for start := 0; start < len(list); start += slotChunk {
		chunk := make([]*upstreamRuntime, slotChunk) // whole, so that at never reads past one
		copy(chunk, list[start:])
		l.chunks = append(l.chunks, chunk)
	}
	return l
}

func (l *slotList) len() int { return l.n }

// at is the runtime in slot i, which must be below len.
func (l *slotList) at(i int) *upstreamRuntime { return l.chunks[i/slotChunk][i%slotChunk] }

// slotWriter is a copy of a slotList that copies a chunk before its first
// write to it.
type slotWriter struct {
	slotList
	owned map[int]bool
}

// writer returns a copy of l with size slots (at least l's).
func (l slotList) writer(size int) *slotWriter {
	w := &slotWriter{slotList: slotList{chunks: slices.Clone(l.chunks), n: max(size, l.n)}, owned: map[int]bool{}}
	for len(w.chunks)*slotChunk < w.n {
		w.owned[len(w.chunks)] = true
		w.chunks = append(w.chunks, make([]*upstreamRuntime, slotChunk))
	}
	return w
}

func (w *slotWriter) set(i int, rt *upstreamRuntime) {
	c := i / slotChunk
	if !w.owned[c] {
		w.chunks[c], w.owned[c] = slices.Clone(w.chunks[c]), true
	}
	w.chunks[c][i%slotChunk] = rt
}
