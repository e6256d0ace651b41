package journal

import (
	"encoding/binary"
	"fmt"
	"iter"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// History is the run's client history, appended to by every client in event
// order. It belongs to one run: clients write it, checkers read it after.
//
// An hour of load records millions of ops, so they are kept encoded, not as
// Op values (112 bytes each): a header byte and varint deltas, about 12
// bytes an op. Times are deltas from the op before; payloads from the same
// client's last payload (a producer's are consecutive); offsets from the
// same partition's last offset; strings are indexes into tables. Every
// opsPerBlock ops the deltas start afresh, so At decodes at most one block.
type History struct {
	chunks [][]byte // encoded ops; an op never spans two chunks
	blocks []opBlock
	n      int

	processes []string
	process   map[string]uint32
	tps       []protocol.TopicPartition
	tp        map[protocol.TopicPartition]uint32
	notes     []string
	note      map[string]uint32

	enc opDeltas

	// decoded holds every op, decoded once, while the history is short
	// (maxDecodedOps): the checkers read a history eight times over, and a
	// short one costs less kept decoded than decoded eight times.
	decoded []flatOp
}

// maxDecodedOps bounds the decoded copy: about 9 MB.
const maxDecodedOps = 1 << 17

// opBlock is where a block of ops starts.
type opBlock struct{ chunk, off int32 }

const (
	opsPerBlock = 128
	maxOpBytes  = 2 + 10*10 // header, and at most ten varints
)

// opDeltas is the state both the encoder and the decoder keep: what each
// delta is taken from. A value whose generation is not the current block's
// counts as zero.
type opDeltas struct {
	block       int32
	lastTime    clock.Time
	lastPayload []stamped // per process
	lastOffset  []stamped // per partition
}

type stamped struct {
	block int32
	v     int64
}

func (d *opDeltas) reset(block int32) { d.block, d.lastTime = block, 0 }

func (d *opDeltas) get(s []stamped, i uint32) int64 {
	if int(i) < len(s) && s[i].block == d.block {
		return s[i].v
	}
	return 0
}

func set(s *[]stamped, i uint32, block int32, v int64) {
	for len(*s) <= int(i) {
		*s = append(*s, stamped{block: -1})
	}
	(*s)[i] = stamped{block, v}
}

// Header bits of an encoded op.
const (
	hType       = 0x03 // OpType
	hKindShift  = 2    // OpKind in bits 2-3
	hIdempotent = 1 << 4
	hErr        = 1 << 5
	hNote       = 1 << 6
	hStart      = 1 << 7
	// second byte
	hHW         = 1 << 0
	hAcksShift  = 1      // Acks+1 in bits 1-2
	hKindHigh   = 1 << 3 // OpKind's third bit
	hGeneration = 1 << 4
	hQueued     = 1 << 5
)

// HistoryOf builds a history from ops, in order (tests, small tools).
func HistoryOf(ops ...Op) *History {
	h := &History{}
	for _, op := range ops {
		h.Add(op)
	}
	return h
}

// Len returns the number of ops.
func (h *History) Len() int {
	if h == nil {
		return 0
	}
	return h.n
}

func intern[K comparable](list *[]K, index *map[K]uint32, k K) uint32 {
	if len(*list) <= 16 {
		// A run has a few processes and partitions: comparing beats hashing.
		for i, have := range *list {
			if have == k {
				return uint32(i)
			}
		}
	}
	if *index == nil {
		*index = map[K]uint32{}
	}
	i, ok := (*index)[k]
	if !ok {
		i = uint32(len(*list))
		*list = append(*list, k)
		(*index)[k] = i
	}
	return i
}

func (h *History) Add(op Op) {
	h.decoded = nil
	if h.n%opsPerBlock == 0 {
		if len(h.chunks) == 0 || len(h.chunks[len(h.chunks)-1])+maxOpBytes*opsPerBlock > cap(h.chunks[len(h.chunks)-1]) {
			// Chunks grow from 64 KiB (a short run's whole history) to 1 MiB.
			h.chunks = append(h.chunks, make([]byte, 0, 64<<10<<min(len(h.chunks), 4)))
		}
		h.blocks = append(h.blocks, opBlock{int32(len(h.chunks) - 1), int32(len(h.chunks[len(h.chunks)-1]))})
		h.enc.reset(int32(len(h.blocks) - 1))
	}
	if op.Acks < -1 || op.Acks > 1 {
		panic(fmt.Sprintf("cluster: history op with acks %d", op.Acks))
	}
	proc := intern(&h.processes, &h.process, op.Process)
	tp := intern(&h.tps, &h.tp, op.TP)
	b := &h.chunks[len(h.chunks)-1]
	h0 := byte(op.Type)&hType | byte(op.F&3)<<hKindShift
	h1 := byte(op.Acks+1) << hAcksShift
	if op.F > 3 {
		h1 |= hKindHigh
	}
	if op.Generation != 0 {
		h1 |= hGeneration
	}
	if op.Idempotent {
		h0 |= hIdempotent
	}
	if op.Err != protocol.None {
		h0 |= hErr
	}
	if op.Note != "" {
		h0 |= hNote
	}
	if op.Start != 0 {
		h0 |= hStart
	}
	if op.HW != 0 {
		h1 |= hHW
	}
	if op.Queued != 0 {
		if op.HW != 0 {
			panic("cluster: history op with both a high watermark and a queued time")
		}
		h1 |= hQueued
	}
	*b = append(*b, h0, h1)
	d := &h.enc
	*b = binary.AppendVarint(*b, int64(op.Time-d.lastTime))
	d.lastTime = op.Time
	*b = binary.AppendUvarint(*b, uint64(proc))
	*b = binary.AppendUvarint(*b, uint64(tp))
	*b = binary.AppendVarint(*b, op.Payload-d.get(d.lastPayload, proc))
	set(&d.lastPayload, proc, d.block, op.Payload)
	*b = binary.AppendVarint(*b, op.Offset-d.get(d.lastOffset, tp))
	set(&d.lastOffset, tp, d.block, op.Offset)
	*b = binary.AppendVarint(*b, int64(op.Broker))
	if op.Start != 0 {
		*b = binary.AppendVarint(*b, int64(op.Time-op.Start))
	}
	if op.HW != 0 {
		*b = binary.AppendVarint(*b, op.HW-op.Offset)
	}
	if op.Queued != 0 {
		*b = binary.AppendVarint(*b, int64(op.Time-op.Queued))
	}
	if op.Err != protocol.None {
		*b = binary.AppendUvarint(*b, uint64(uint16(op.Err)))
	}
	if op.Note != "" {
		*b = binary.AppendUvarint(*b, uint64(intern(&h.notes, &h.note, op.Note)))
	}
	if op.Generation != 0 {
		*b = binary.AppendVarint(*b, int64(op.Generation))
	}
	h.n++
}

// opReader decodes ops from one block on.
type opReader struct {
	h      *History
	i      int // index of the next op
	buf    []byte
	deltas opDeltas
}

func (h *History) readerAt(block int) *opReader {
	r := &opReader{h: h, i: block * opsPerBlock}
	r.seek(block)
	return r
}

func (r *opReader) seek(block int) {
	bl := r.h.blocks[block]
	r.buf = r.h.chunks[bl.chunk][bl.off:]
	r.deltas.reset(int32(block))
}

// uvarintAt decodes the unsigned varint at b[i:], returning the index
// after it. The one-byte case, most deltas, inlines; and a local index,
// unlike reslicing the reader's buffer, stays in a register.
func uvarintAt(b []byte, i int) (uint64, int) {
	if c := b[i]; c < 0x80 {
		return uint64(c), i + 1
	}
	v, n := binary.Uvarint(b[i:])
	return v, i + n
}

// varintAt decodes a zig-zag varint, as binary.Varint.
func varintAt(b []byte, i int) (int64, int) {
	u, i := uvarintAt(b, i)
	return int64(u>>1) ^ -int64(u&1), i
}

// flatOp is an op as the decoder gives it, its strings as indexes into the
// history's tables. A short history is kept decoded as these: two thirds of
// an Op's size, and no pointers for the collector to scan.
type flatOp struct {
	time, start         clock.Time
	payload, offset, hw int64 // hw: a send's queued time when queued is set
	process, tp         uint32
	note                uint32 // the index plus one; 0 for none
	index, generation   int32
	broker              protocol.BrokerID
	err                 protocol.ErrorCode
	typ                 OpType
	f                   OpKind
	acks                int8
	idempotent          bool
	queued              bool
}

// op expands f.
func (h *History) op(f *flatOp) Op {
	op := Op{Time: f.time, Start: f.start, Payload: f.payload, Offset: f.offset, HW: f.hw, Process: h.processes[f.process], TP: h.tps[f.tp],
		Index: f.index, Broker: f.broker, Err: f.err, Type: f.typ, F: f.f, Acks: f.acks, Idempotent: f.idempotent, Generation: f.generation}
	if f.note != 0 {
		op.Note = h.notes[f.note-1]
	}
	if f.queued {
		op.HW, op.Queued = 0, clock.Time(f.hw)
	}
	return op
}

func (r *opReader) next() Op {
	var f flatOp
	r.decode(&f)
	return r.h.op(&f)
}

// decode decodes the next op into op.
func (r *opReader) decode(op *flatOp) {
	if r.i%opsPerBlock == 0 && r.i > 0 {
		r.seek(r.i / opsPerBlock)
	}
	b, d := r.buf, &r.deltas
	h0, h1 := b[0], b[1]
	var (
		v     int64
		u, ut uint64
		i     = 2
	)
	*op = flatOp{index: int32(r.i), typ: OpType(h0 & hType), f: OpKind(h0 >> hKindShift & 3), acks: int8(h1>>hAcksShift&3) - 1, idempotent: h0&hIdempotent != 0}
	if h1&hKindHigh != 0 {
		op.f |= 4
	}
	v, i = varintAt(b, i)
	op.time = d.lastTime + clock.Time(v)
	d.lastTime = op.time
	u, i = uvarintAt(b, i)
	ut, i = uvarintAt(b, i)
	proc, tp := uint32(u), uint32(ut)
	op.process, op.tp = proc, tp
	v, i = varintAt(b, i)
	op.payload = d.get(d.lastPayload, proc) + v
	set(&d.lastPayload, proc, d.block, op.payload)
	v, i = varintAt(b, i)
	op.offset = d.get(d.lastOffset, tp) + v
	set(&d.lastOffset, tp, d.block, op.offset)
	v, i = varintAt(b, i)
	op.broker = protocol.BrokerID(v)
	if h0&hStart != 0 {
		v, i = varintAt(b, i)
		op.start = op.time - clock.Time(v)
	}
	if h1&hHW != 0 {
		v, i = varintAt(b, i)
		op.hw = op.offset + v
	}
	if h1&hQueued != 0 {
		v, i = varintAt(b, i)
		op.hw, op.queued = int64(op.time)-v, true // a send's, which has no high watermark
	}
	if h0&hErr != 0 {
		u, i = uvarintAt(b, i)
		op.err = protocol.ErrorCode(uint16(u))
	}
	if h0&hNote != 0 {
		u, i = uvarintAt(b, i)
		op.note = uint32(u) + 1
	}
	if h1&hGeneration != 0 {
		v, i = varintAt(b, i)
		op.generation = int32(v)
	}
	r.buf = b[i:]
	r.i++
}

// All yields every op with its index, in the order recorded.
func (h *History) All() iter.Seq2[int, Op] {
	return func(yield func(int, Op) bool) {
		if h.Len() == 0 {
			return
		}
		if ops := h.decode(); ops != nil {
			for i := range ops {
				if !yield(i, h.op(&ops[i])) {
					return
				}
			}
			return
		}
		r := h.readerAt(0)
		var op flatOp
		for r.i < h.n {
			i := r.i
			r.decode(&op)
			if !yield(i, h.op(&op)) {
				return
			}
		}
	}
}

// Seal readies a finished history for readers on several goroutines at
// once (the checkers, a report's plots): reading a short history decodes
// it into a copy the first time, which must not happen twice at once.
func (h *History) Seal() { h.decode() }

// decode returns every op decoded, or nil for a history too long to keep
// decoded.
func (h *History) decode() []flatOp {
	if h.decoded == nil && h.n <= maxDecodedOps {
		h.decoded = make([]flatOp, h.n)
		r := h.readerAt(0)
		for i := range h.decoded {
			r.decode(&h.decoded[i])
		}
	}
	return h.decoded
}

// At returns op i, decoding at most one block.
func (h *History) At(i int) Op {
	if i < 0 || i >= h.Len() {
		panic(fmt.Sprintf("cluster: history op %d of %d", i, h.Len()))
	}
	if h.decoded != nil {
		return h.op(&h.decoded[i])
	}
	r := h.readerAt(i / opsPerBlock)
	for r.i < i {
		r.next()
	}
	return r.next()
}

// Ops returns every op as a slice: for tests and short histories; a long
// run's checkers iterate with All.
func (h *History) Ops() []Op {
	ops := make([]Op, 0, h.Len())
	for _, op := range h.All() {
		ops = append(ops, op)
	}
	return ops
}

// EncodedBytes is the memory the encoded ops take.
func (h *History) EncodedBytes() int {
	n := 0
	for _, c := range h.chunks {
		n += len(c)
	}
	return n
}
