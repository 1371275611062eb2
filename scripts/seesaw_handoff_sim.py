#!/usr/bin/env python3
"""Host-side model of the 64-row kernel's synchronisation (src/kernels/sm90/decode_wgmma:
components/producer.cuh, handoff.cuh, kernel.cuh): the producer (TMA issue, kStages pages
ahead), the TMA engine, and the two consumer warpgroups taking a segment's pages in turns
(warpgroup s owns page turn + s: its QK and softmax into exchange slot s; both run PV on both
pages of the turn, in page order). Random interleavings over random segment lists, each with a
random tail of pages no row of the tile sees (visible_end).

Checks: no deadlock; every mbarrier wait passes on the phase right after the waiter's last one
(a wait two phases late would hang on the GPU, whose waits test the parity only); no stage is
reloaded while a warpgroup reads its page; no slot is rewritten while the other warpgroup reads
it; every read sees the page / slot contents of its own block.

A warpgroup is one actor here: the barriers among its own warps (the owner's barrier before its
PV and before it rewrites its slot, the epilogue's) are not modelled, nor are the memory-model
questions racecheck asks; this is about the protocol's phases."""
import random
import sys

STAGES, WARPGROUPS = 4, 2


class MBar:
    def __init__(self, count):
        self.count, self.pending, self.ph = count, count, 0

    def arrive(self):
        self.pending -= 1
        assert self.pending >= 0
        if self.pending == 0:
            self.ph += 1
            self.pending = self.count


class Waiter:
    """One waiter's view of one mbarrier: `done` phases waited for so far (-1: the phase before
    the first counts as complete, for barriers that start 'empty')."""

    def __init__(self, bar, starts_complete=False):
        self.bar, self.done = bar, (-1 if starts_complete else 0)

    def ready(self):
        return self.bar.ph > self.done

    def take(self, what):
        assert self.bar.ph == self.done + 1, (what, 'passed on a phase it did not wait for', self.bar.ph, self.done)
        self.done += 1

    def skip(self):  # a phase this waiter does not wait for (parity flipped only)
        self.done += 1


def run(seed):
    rng = random.Random(seed)
    segs = []
    for _ in range(rng.randint(1, 5)):
        n = rng.randint(1, 7)
        visible = n if rng.random() < 0.7 else rng.randint(0, n)
        segs.append((n, visible))
    page_full = [MBar(1) for _ in range(STAGES)]
    stage_empty = [MBar(WARPGROUPS) for _ in range(STAGES)]  # 8 consumer warps: one arrival a warpgroup here
    max_ready = MBar(1)
    slot_full = [MBar(1) for _ in range(WARPGROUPS)]
    slot_free = [MBar(1) for _ in range(WARPGROUPS)]
    stage_page = [None] * STAGES
    stage_readers = [set() for _ in range(STAGES)]
    slot_block = [None] * WARPGROUPS     # the block whose P8 / row values the slot holds
    slot_max_block = [None] * WARPGROUPS  # the block whose row maxima it holds (written first)
    slot_readers = [set() for _ in range(WARPGROUPS)]
    tma_queue = []

    def producer():
        empty = [Waiter(b, starts_complete=True) for b in stage_empty]
        ring, page = 0, 0
        for n, _ in segs:
            begin, end = page, page + n
            page = end
            for blk in range(begin, end):
                s = (ring + blk - begin) % STAGES
                yield ('wait', empty[s].ready)
                empty[s].take(('stage_empty', s))
                assert not stage_readers[s], ('stage reloaded while read', s, stage_readers[s])
                stage_page[s] = None
                tma_queue.append((s, blk))
            ring = (ring + n) % STAGES

    def consumer(w):
        full = [Waiter(b) for b in page_full]
        ready = Waiter(max_ready)
        sfull = [Waiter(b) for b in slot_full]
        sfree = [Waiter(b, starts_complete=True) for b in slot_free]
        ring, page = 0, 0
        for n, visible in segs:
            begin, end = page, page + n
            vis_end = begin + visible
            page = end
            stage = lambda blk: (ring + blk - begin) % STAGES

            def take_max(turn):
                if w == 1 and turn < vis_end:
                    yield ('wait', ready.ready)
                    ready.take('max_ready')
                    assert slot_max_block[0] == turn, ('row maxima of the wrong block', slot_max_block[0], turn)

            for turn in range(begin, end, WARPGROUPS):
                own = turn + w
                if own >= vis_end:
                    yield from take_max(turn)
                else:
                    s = stage(own)
                    yield ('wait', full[s].ready)
                    full[s].take(('page_full', s))
                    assert stage_page[s] == own, ('QK on the wrong page', w, s, stage_page[s], own)
                    stage_readers[s].add(w)
                    yield ('step',)  # QK
                    yield from take_max(turn)
                    yield ('wait', sfree[w].ready)
                    sfree[w].take(('slot_free', w))
                    assert not slot_readers[w], ('slot rewritten while read', w)
                    slot_max_block[w] = own
                    if w == 0:
                        max_ready.arrive()
                    yield ('step',)  # softmax
                    slot_block[w] = own
                    slot_full[w].arrive()
                for k in range(WARPGROUPS):
                    blk = turn + k
                    if blk >= end:
                        break
                    s = stage(blk)
                    if blk >= vis_end:
                        # Released only once it has landed: an earlier release could complete the
                        # stage's next phase before the producer has waited for this one.
                        yield ('wait', full[s].ready)
                        full[s].take(('page_full', s))
                        stage_empty[s].arrive()
                        continue
                    if k != w:
                        yield ('wait', sfull[k].ready)
                        sfull[k].take(('slot_full', k))
                        yield ('wait', full[s].ready)
                        full[s].take(('page_full', s))
                        slot_readers[k].add(w)
                    assert stage_page[s] == blk, ('PV on the wrong page', w, s, stage_page[s], blk)
                    assert slot_block[k] == blk, ('PV with the wrong P8', w, k, slot_block[k], blk)
                    stage_readers[s].add(w)
                    yield ('step',)  # PV
                    stage_readers[s].discard(w)
                    stage_empty[s].arrive()
                    if k != w:
                        slot_readers[k].discard(w)
                        slot_free[k].arrive()
            ring = (ring + n) % STAGES
            yield ('sync',)  # the epilogue's consumer_sync

    actors = {'P': producer(), 0: consumer(0), 1: consumer(1)}
    state = {a: ('step',) for a in actors}
    done, sync_waiting = set(), set()
    for _ in range(200000):
        runnable = [a for a in actors if a not in done and a not in sync_waiting
                    and not (state[a][0] == 'wait' and not state[a][1]())]
        if tma_queue:
            runnable.append('TMA')
        if not runnable:
            if len(done) == len(actors):
                return
            raise AssertionError(f'deadlock: seed {seed}, segments {segs}, '
                                 f'{[(a, state[a][0]) for a in actors if a not in done]}, sync {sync_waiting}')
        a = rng.choice(runnable)
        if a == 'TMA':
            s, blk = tma_queue.pop(0)  # one issuer: copies land in issue order
            stage_page[s] = blk
            page_full[s].arrive()
            continue
        try:
            nxt = next(actors[a])
        except StopIteration:
            done.add(a)
            continue
        if nxt[0] == 'sync':
            sync_waiting.add(a)
            if len(sync_waiting) == WARPGROUPS:
                for b in sync_waiting:
                    state[b] = ('step',)
                sync_waiting.clear()
            continue
        state[a] = nxt
    raise AssertionError(f'did not finish: seed {seed}')


if __name__ == '__main__':
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    for seed in range(n):
        run(seed)
    print(f'seesaw hand-offs: {n} random interleavings, no deadlock, no overwrite, every wait on its own phase')
