#!/usr/bin/env python3
"""Host-side model of the 64-row kernel's producer/consumer handshake
(src/kernels/sm90/decode_wgmma/components/producer.cuh): random interleavings of the producer,
8 consumer warps and the TMA engine over random segment lists; checks for deadlock, for the
parity (ABA) rule of every mbarrier wait, and that no stage or V^T buffer is overwritten while
it is read. It models the mbarriers only: the one hang this kernel had on a GPU came from
setmaxnreg asking for more registers than the CTA's pool holds (static_assert in producer.cuh)."""
import random, sys

STAGES, WARPS = 3, 8
AHEAD = STAGES - 1  # pages the producer keeps loaded ahead of the one it transposes (producer.cuh)

class MBar:
    def __init__(self, count): self.count, self.pending, self.ph = count, count, 0
    def arrive(self):
        self.pending -= 1
        assert self.pending >= 0
        if self.pending == 0: self.ph += 1; self.pending = self.count
    def passes(self, parity): return self.ph % 2 != parity

def run(seed):
    rng = random.Random(seed)
    segs = []
    for _ in range(rng.randint(1, 5)):
        n = rng.randint(1, 6)
        segs.append([rng.random() < 0.15 for _ in range(n)])  # True: no row sees the block (n_hi = 0)
    full = [MBar(1) for _ in range(STAGES)]
    empty = [MBar(WARPS + 1) for _ in range(STAGES)]
    vt_full, vt_empty = MBar(1), MBar(WARPS)
    stage_page = [None] * STAGES          # page id in the stage once landed
    stage_readers = [set() for _ in range(STAGES)]
    tma_queue = []                        # (stage, page) in flight
    vt = {'content': None, 'readers': set()}
    consumer_sync = {'gen': 0, 'arrived': 0}

    def waiter(bar, parity_bits, k, expect):  # returns a predicate and records the expected phase
        return lambda: bar.passes((parity_bits[0] >> k) & 1)

    def producer():
        full_bits, empty_bits, vt_bit = [0], [(1 << STAGES) - 1], [1]
        expect_empty = [0] * STAGES
        ring, page_id = 0, 0
        for seg in segs:
            begin = page_id; end = begin + len(seg); page_id = end
            def load(blk):
                st = (ring + blk - begin) % STAGES
                yield ('wait', lambda: empty[st].passes((empty_bits[0] >> st) & 1))
                assert empty[st].ph == expect_empty[st], ('ABA empty', st, empty[st].ph, expect_empty[st])
                expect_empty[st] += 1
                empty_bits[0] ^= 1 << st
                assert not stage_readers[st], ('stage overwritten while read', st)
                stage_page[st] = None
                tma_queue.append((st, blk))
            for k in range(AHEAD):
                if begin + k < end: yield from load(begin + k)
            for blk in range(begin, end):
                s = (ring + blk - begin) % STAGES
                yield ('wait', lambda s=s: full[s].passes((full_bits[0] >> s) & 1))
                full_bits[0] ^= 1 << s
                assert stage_page[s] == blk, ('producer sees the wrong page', s, stage_page[s], blk)
                if not seg[blk - begin]:
                    yield ('wait', lambda: vt_empty.passes(vt_bit[0]))
                    vt_bit[0] ^= 1
                    assert not vt['readers'], 'V^T overwritten while PV reads it'
                    stage_readers[s].add('P'); yield ('step',)
                    vt['content'] = blk
                    stage_readers[s].discard('P')
                    vt_full.arrive()
                empty[s].arrive()
                if blk + AHEAD < end: yield from load(blk + AHEAD)
            ring = (ring + end - begin) % STAGES

    def consumer(w):
        phases, vt_phase = [0], [0]
        ring, page_id = 0, 0
        for seg in segs:
            begin = page_id; end = begin + len(seg); page_id = end
            for blk in range(begin, end):
                s = (ring + blk - begin) % STAGES
                yield ('wait', lambda s=s: full[s].passes((phases[0] >> s) & 1))
                phases[0] ^= 1 << s
                yield ('sync',)
                if not seg[blk - begin]:
                    assert stage_page[s] == blk, ('consumer sees the wrong page', w, s, stage_page[s], blk)
                    stage_readers[s].add(w); yield ('step',)       # QK, softmax
                    stage_readers[s].discard(w)
                    empty[s].arrive()
                    yield ('wait', lambda: vt_full.passes(vt_phase[0]))
                    vt_phase[0] ^= 1
                    yield ('sync',)
                    assert vt['content'] == blk, ('PV reads the wrong V^T', w, vt['content'], blk)
                    vt['readers'].add(w); yield ('step',)           # PV
                    vt['readers'].discard(w)
                    vt_empty.arrive()
                else:
                    empty[s].arrive()
            ring = (ring + end - begin) % STAGES
            yield ('sync',)

    actors = {'P': producer()}
    for w in range(WARPS): actors[w] = consumer(w)
    state = {a: ('step',) for a in actors}
    done = set()
    sync_waiting = set()
    for _ in range(100000):
        runnable = []
        for a in actors:
            if a in done or a in sync_waiting: continue
            st = state[a]
            if st[0] == 'wait' and not st[1](): continue
            runnable.append(a)
        if tma_queue: runnable.append('TMA')
        if not runnable:
            if len(done) == len(actors): return True
            raise AssertionError(f'deadlock: seed {seed}, waiting {[(a, state[a][0]) for a in actors if a not in done]}, sync {sync_waiting}')
        a = rng.choice(runnable)
        if a == 'TMA':
            st, blk = tma_queue.pop(0)  # copies land in issue order (one issuer)
            stage_page[st] = blk; full[st].arrive(); continue
        try:
            nxt = next(actors[a])
        except StopIteration:
            done.add(a); continue
        if nxt[0] == 'sync':
            sync_waiting.add(a)
            if len(sync_waiting) == WARPS:
                for b in sync_waiting: state[b] = ('step',)
                sync_waiting.clear()
            continue
        state[a] = nxt
    raise AssertionError('did not finish')

if __name__ == '__main__':
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    if len(sys.argv) > 2: AHEAD = int(sys.argv[2])
    for seed in range(n): run(seed)
    print(f'producer handshake: {n} random interleavings, no deadlock, no overwrite, every wait on its own phase')
