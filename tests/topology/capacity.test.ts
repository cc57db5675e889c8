/**
 * firstOverflowing (topology/capacity.ts): which new master, in join order, is the first a node
 * cannot hold. The ram-headroom policy names its verdict at that master's resource, so the plan
 * shows it under the phase whose `up` the capacity gate stops.
 */
import { strict as assert } from "assert";
import { capacityRow, firstOverflowing, NodeCapacityFacts, PlannedVm } from "@ha-control-plane/topology";

// The seed's node: 267 GiB physical, 8 GiB reserve, so 259 GiB usable.
const node = (committedGiB: number): NodeCapacityFacts => ({ node: "pve", physicalGiB: 267, committedGiB, hostReserveGiB: 8 });
const masters = (...memoryGiB: number[]): PlannedVm[] => memoryGiB.map((m, i) => ({ name: `k8s-master-${i + 2}`, memoryGiB: m }));

describe("topology: firstOverflowing (the first new master a Proxmox node cannot hold)", () => {
    it("none when every master fits, to the last GiB", () => {
        assert.equal(firstOverflowing(node(227), masters(16, 16)), undefined);
        // No new VM: nothing to name, even on a node inside its reserve (the reserve warning says that).
        assert.equal(firstOverflowing(node(262), []), undefined);
    });

    it("the second master when the first still fits: its phase is the one refused", () => {
        assert.equal(firstOverflowing(node(240), masters(16, 16))?.name, "k8s-master-3");
        assert.equal(firstOverflowing(node(228), masters(16, 16))?.name, "k8s-master-3", "one GiB over");
    });

    it("the first master when it alone does not fit, and when the node is already inside its reserve", () => {
        assert.equal(firstOverflowing(node(250), masters(16, 4))?.name, "k8s-master-2");
        // The seed's figures: 262 GiB committed of 259 usable.
        assert.equal(firstOverflowing(node(262), masters(4, 4))?.name, "k8s-master-2");
    });

    it("in the order given (join order), not by size; and keeps the caller's own fields", () => {
        const planned = [
            { name: "k8s-master-2", memoryGiB: 4, urn: "urn:a" },
            { name: "k8s-master-3", memoryGiB: 32, urn: "urn:b" },
            { name: "k8s-master-4", memoryGiB: 2, urn: "urn:c" },
        ];
        assert.equal(firstOverflowing(node(230), planned)?.urn, "urn:b");
    });

    it("agrees with capacityRow on random nodes: defined exactly when the whole plan does not fit, and every master before it fits (unless the node is in its reserve already)", () => {
        let seed = 7;
        const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
        for (let i = 0; i < 500; i++) {
            const facts = node(200 + rand(70));
            const planned = masters(...Array.from({ length: 1 + rand(4) }, () => 1 + rand(32)));
            const first = firstOverflowing(facts, planned);
            assert.equal(first === undefined, capacityRow(facts, planned).fits, JSON.stringify({ facts, planned }));
            if (!first) continue;
            const at = planned.indexOf(first);
            // The first one on a node already inside its reserve; else the ones before it fit.
            if (at > 0) assert.ok(capacityRow(facts, planned.slice(0, at)).fits, "the masters before it fit");
            assert.ok(!capacityRow(facts, planned.slice(0, at + 1)).fits, "it does not");
        }
    });
});
