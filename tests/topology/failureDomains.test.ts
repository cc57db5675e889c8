import { strict as assert } from "assert";
import {
    failureDomains,
    judgeSpread,
    NodeCapacityFacts,
    placementFacts,
    quorumOf,
    readPlacementFacts,
    spreadCase,
    spreadPlacement,
    SpreadMember,
} from "@ha-control-plane/topology";

const facts = (node: string, committedGiB = 0): NodeCapacityFacts => ({ node, physicalGiB: 256, committedGiB, hostReserveGiB: 8 });
const member = (name: string, node: string, existing = false): SpreadMember => ({ name, node, memoryGiB: 16, existing });

describe("failure domains (topology/failureDomains.ts)", () => {
    it("per node: its members, the members left if it fails, and whether they keep quorum", () => {
        const members = [member("a", "pve"), member("b", "pve"), member("c", "pve2")];
        assert.deepEqual(failureDomains(["pve", "pve2", "pve3"], members), [
            { node: "pve", members: ["a", "b"], survivorsIfLost: 1, quorumKeptIfLost: false },
            { node: "pve2", members: ["c"], survivorsIfLost: 2, quorumKeptIfLost: true },
            { node: "pve3", members: [], survivorsIfLost: 3, quorumKeptIfLost: true },
        ]);
    });

    it("a node only a member names is listed too; no members at all keeps nothing", () => {
        assert.deepEqual(failureDomains(["pve"], [member("a", "elsewhere")]).map((d) => d.node), ["pve", "elsewhere"]);
        assert.deepEqual(failureDomains(["pve"], []), [{ node: "pve", members: [], survivorsIfLost: 0, quorumKeptIfLost: false }]);
    });

    it("the case follows the node count", () => {
        assert.deepEqual([1, 2, 3, 7].map(spreadCase), ["one-node", "two-nodes", "three-or-more-nodes", "three-or-more-nodes"]);
    });

    it("a balanced placement leaves no node a quorum's worth, for 2 to 9 members on 3 to 6 nodes, the existing master kept", () => {
        for (let nodes = 3; nodes <= 6; nodes++) {
            for (let total = 2; total <= 9; total++) {
                const input = {
                    nodes: Array.from({ length: nodes }, (_, i) => facts(`n${i}`)),
                    // Everyone starts crowded on n0, the existing master among them.
                    members: Array.from({ length: total }, (_, i) => member(`m${i}`, "n0", i === 0)),
                };
                const placed = spreadPlacement(input);
                assert.equal(placed.find((p) => p.name === "m0")!.node, "n0", "the existing master stays");
                const worst = Math.max(...failureDomains(input.nodes.map((n) => n.node), placed).map((d) => d.members.length));
                assert.ok(worst < quorumOf(total), `${total} members on ${nodes} nodes: ${worst} on one node`);
                assert.equal(judgeSpread({ ...input, members: input.members.map((m) => ({ ...m, node: placed.find((p) => p.name === m.name)!.node })) }), undefined);
            }
        }
    });

    it("prefers, among equally empty nodes, one where the master fits", () => {
        const input = { nodes: [facts("a"), facts("b", 245), facts("c")], members: [member("m", "a", true), member("m2", "a")] };
        assert.deepEqual(spreadPlacement(input), [{ name: "m", node: "a" }, { name: "m2", node: "c" }]);
    });

    it("placement facts survive the round trip through a component's outputs; malformed ones are not read", () => {
        const f = { nodes: [facts("pve", 262)], existingMaster: { name: "k8s-master", node: "pve", memoryGiB: 32 } };
        assert.deepEqual(readPlacementFacts(JSON.parse(JSON.stringify(placementFacts(f)))), f);
        assert.equal(readPlacementFacts({ ...placementFacts(f), nodes: [{ node: "pve" }] }), undefined);
        assert.equal(readPlacementFacts({ ...f }), undefined);
    });
});
