/**
 * The unblock options hold up against the capacity rule itself: each one, applied to the figures,
 * makes capacityRow say "fits" (and one GiB less would not), on the lab and on random nodes.
 */
import { strict as assert } from "assert";
import {
    capacityPlan,
    capacityRow,
    FreeMemoryOption,
    loadTopology,
    MoveNewMastersOption,
    nodeFacts,
    RightSizeExistingMasterOption,
    sizingBasis,
    SmallerNewMastersOption,
    Topology,
    unblockOptions,
    UnblockOption,
} from "@ha-control-plane/topology";
import { labConfig } from "../helpers/program";
import { readProjectFile } from "../../components/projectFiles";

const LAB_SIZING = sizingBasis({ observedWorkingSetGiB: 4.6, maxRatio: 4 });

function lab(edit?: (raw: Record<string, any>) => void): Topology {
    const stack = labConfig("3", edit);
    return loadTopology(stack.raw, { project: stack.project, stack: stack.stack, readProjectFile });
}

const ofKind = <K extends UnblockOption["kind"]>(options: readonly UnblockOption[], kind: K) =>
    options.find((o) => o.kind === kind) as Extract<UnblockOption, { kind: K }>;

/** A pseudo-random sequence, the same on every run. */
function random(seed: number): () => number {
    let s = seed;
    return () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

describe("unblock options (topology/unblock.ts), each one checked by the capacity rule", () => {
    it("the lab: 35 GiB to free, no size of new master fits (3 GiB into the reserve), right-sizing k8s-master frees 13 GiB, nowhere to move", () => {
        const t = lab();
        const options = unblockOptions(t, t.masters, LAB_SIZING);
        assert.deepEqual(options.map((o) => [o.node, o.kind]), [
            ["pve", "free-memory"],
            ["pve", "smaller-new-masters"],
            ["pve", "right-size-existing-master"],
            ["pve", "move-new-masters"],
        ]);
        const free = ofKind(options, "free-memory");
        assert.equal(free.freesGiB, 35);
        assert.equal(free.committedAtMostGiB, 227);
        const smaller = ofKind(options, "smaller-new-masters");
        assert.equal(smaller.fitsGiB, null);
        assert.equal(smaller.intoReserveGiB, 3);
        assert.match(smaller.summary, /already 3 GiB into its host reserve before any new VM \(262 GiB committed against 259 GiB usable\), so even zero-size masters would not fit/);
        const resize = ofKind(options, "right-size-existing-master");
        assert.deepEqual(
            { master: resize.master, fromGiB: resize.fromGiB, toGiB: resize.toGiB, freesGiB: resize.freesGiB, unblocksAlone: resize.unblocksAlone, stillShortGiB: resize.stillShortGiB, newMastersFitGiB: resize.newMastersFitGiB },
            { master: "k8s-master", fromGiB: 32, toGiB: 19, freesGiB: 13, unblocksAlone: false, stillShortGiB: 22, newMastersFitGiB: 5 },
        );
        assert.match(resize.summary, /the stack never changes it/);
        const move = ofKind(options, "move-new-masters");
        assert.deepEqual(move.moves, []);
        assert.match(move.summary, /proxmox\.nodes lists no other node/);
    });

    it("right-sizing the existing master alone unblocks when the shortfall is smaller than what it frees", () => {
        const t = lab((raw) => (raw.proxmox.nodes[0].committedMemoryGiB = 235));
        const resize = ofKind(unblockOptions(t, t.masters, LAB_SIZING), "right-size-existing-master");
        assert.equal(resize.unblocksAlone, true);
        assert.equal(resize.stillShortGiB, 0);
        assert.match(resize.summary, /Alone that unblocks pve: 5 GiB headroom left/);
    });

    it("no right-sizing option when the existing master is already at or below the suggested size, or on another node", () => {
        const small = lab((raw) => (raw.masters[0].memoryGiB = 16));
        assert.equal(unblockOptions(small, small.masters, LAB_SIZING).some((o) => o.kind === "right-size-existing-master"), false);
        const elsewhere = lab((raw) => {
            raw.proxmox.nodes.push({ name: "pve2", address: "192.168.1.128", physicalMemoryGiB: 64, committedMemoryGiB: 60 });
            raw.masters[0].node = "pve2";
        });
        const options = unblockOptions(elsewhere, elsewhere.masters, LAB_SIZING);
        assert.ok(options.length > 0, "pve is still blocked");
        assert.equal(options.some((o) => o.kind === "right-size-existing-master"), false);
    });

    it("a second host with room: new masters move there, with the failure domains after the move", () => {
        const t = lab((raw) => raw.proxmox.nodes.push({ name: "pve2", address: "192.168.1.128", physicalMemoryGiB: 128, committedMemoryGiB: 0 }));
        const move = ofKind(unblockOptions(t, t.masters, LAB_SIZING), "move-new-masters");
        // Latest joiner first, then the next: both must go, pve is over-committed before any new VM.
        assert.deepEqual(move.moves, [{ master: "k8s-master-3", to: "pve2" }, { master: "k8s-master-2", to: "pve2" }]);
        assert.equal(move.freesGiB, 32);
        assert.deepEqual(move.failureDomains.map((d) => [d.node, d.members, d.quorumKeptIfLost]), [
            ["pve", ["k8s-master"], true],
            ["pve2", ["k8s-master-2", "k8s-master-3"], false],
        ]);
        assert.match(move.summary, /pve then takes no new VM \(it stays 3 GiB into its reserve/);
    });

    it("a second host without room: no move is offered, naming its headroom", () => {
        const t = lab((raw) => raw.proxmox.nodes.push({ name: "pve2", address: "192.168.1.128", physicalMemoryGiB: 64, committedMemoryGiB: 50 }));
        const move = ofKind(unblockOptions(t, t.masters, LAB_SIZING), "move-new-masters");
        assert.deepEqual(move.moves, []);
        assert.match(move.summary, /no other node has room for them \(pve2 6 GiB headroom\)/);
    });

    it("nothing to unblock on a node that fits", () => {
        const t = lab((raw) => (raw.proxmox.nodes[0].committedMemoryGiB = 200));
        assert.deepEqual(unblockOptions(t, t.masters, LAB_SIZING), []);
    });

    it("on 300 random nodes and plans: each option applied to the figures fits by capacityRow, and one GiB less would not", () => {
        const next = random(13);
        let checked = 0;
        for (let i = 0; i < 300; i++) {
            const physical = 64 + Math.floor(next() * 400);
            const committed = Math.floor(next() * physical);
            const sizes = [4 + Math.floor(next() * 40), 4 + Math.floor(next() * 40)];
            const existingGiB = 8 + Math.floor(next() * 40);
            const t = lab((raw) => {
                raw.proxmox.nodes[0] = { ...raw.proxmox.nodes[0], physicalMemoryGiB: physical, committedMemoryGiB: committed, hostReserveGiB: 8 };
                raw.masters[0].memoryGiB = existingGiB;
                raw.masters[1].memoryGiB = sizes[0];
                raw.masters[2].memoryGiB = sizes[1];
            });
            const [row] = capacityPlan(t, t.masters);
            const options = unblockOptions(t, t.masters, LAB_SIZING);
            assert.equal(options.length > 0, !row.fits, `case ${i}`);
            if (row.fits) continue;
            checked++;
            const facts = nodeFacts(t.proxmox.nodes[0]);
            const free: FreeMemoryOption = ofKind(options, "free-memory");
            assert.ok(capacityRow({ ...facts, committedGiB: committed - free.freesGiB }, row.planned).fits, `case ${i}: freeing ${free.freesGiB}`);
            assert.ok(!capacityRow({ ...facts, committedGiB: committed - free.freesGiB + 1 }, row.planned).fits, `case ${i}: the exact shortfall`);
            const smaller: SmallerNewMastersOption = ofKind(options, "smaller-new-masters");
            const at = (gib: number, f = facts) => capacityRow(f, row.planned.map((vm) => ({ ...vm, memoryGiB: gib }))).fits;
            if (smaller.fitsGiB !== null) {
                assert.ok(at(smaller.fitsGiB) && !at(smaller.fitsGiB + 1), `case ${i}: ${smaller.fitsGiB} GiB is the largest that fits`);
            } else if (smaller.intoReserveGiB !== undefined) {
                assert.ok(!at(0), `case ${i}: not even zero-size masters fit`);
            } else {
                assert.ok(!at(2), `case ${i}: nothing of kubeadm's minimum fits`);
            }
            const resize = options.find((o): o is RightSizeExistingMasterOption => o.kind === "right-size-existing-master");
            assert.equal(resize !== undefined, existingGiB > 19, `case ${i}: a right-sizing only above the suggested 19 GiB`);
            if (resize) {
                const after = { ...facts, committedGiB: committed - resize.freesGiB };
                assert.equal(capacityRow(after, row.planned).fits, resize.unblocksAlone, `case ${i}`);
                if (resize.newMastersFitGiB !== null) assert.ok(at(resize.newMastersFitGiB, after) && !at(resize.newMastersFitGiB + 1, after), `case ${i}`);
            }
            const move: MoveNewMastersOption = ofKind(options, "move-new-masters");
            assert.deepEqual(move.moves, [], "one node: nowhere to move");
        }
        assert.ok(checked > 50, `${checked} blocked cases checked`);
    });
});
