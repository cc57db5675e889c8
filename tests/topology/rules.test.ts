import { strict as assert } from "assert";
import {
    capacityRow,
    checkFinalControlPlane,
    decideMemberRemoval,
    describeCapacity,
    faultTolerance,
    inRange,
    isFragileTransition,
    loadTopology,
    parseRange,
    phasesUpTo,
    quorumOf,
    quorumPlan,
    stableMac,
} from "@ha-control-plane/topology";
import { labConfig } from "../helpers/program";
import { readProjectFile } from "../../components/projectFiles";

describe("quorum arithmetic (topology/quorum.ts)", () => {
    it("quorum is floor(n/2)+1 and tolerance what is left", () => {
        const table = [1, 2, 3, 4, 5, 6, 7].map((n) => [n, quorumOf(n), faultTolerance(n)]);
        assert.deepEqual(table, [[1, 1, 0], [2, 2, 0], [3, 2, 1], [4, 3, 1], [5, 3, 2], [6, 4, 2], [7, 4, 3]]);
        assert.throws(() => quorumOf(0), RangeError);
    });

    it("a final control plane must be odd and at least 3", () => {
        assert.deepEqual([1, 2, 3, 4, 5, 7].map((n) => checkFinalControlPlane(n).ok), [false, false, true, false, true, true]);
    });

    it("2 members is the fragile transition; 3 is not", () => {
        assert.deepEqual([1, 2, 3, 4].map(isFragileTransition), [false, true, false, false]);
    });

    it("member removal: allowed when the rest keep quorum, refused otherwise, never the last", () => {
        const healthy = ["a", "b", "c"].map((name) => ({ name, healthy: true }));
        assert.deepEqual(decideMemberRemoval(healthy, "c"), { allowed: true, remaining: 2, quorum: 2 });
        const oneDown = [{ name: "a", healthy: true }, { name: "b", healthy: false }, { name: "c", healthy: true }];
        const refused = decideMemberRemoval(oneDown, "c");
        assert.equal(refused.allowed, false);
        assert.deepEqual(!refused.allowed && refused.unhealthy, ["b"]);
        assert.equal(decideMemberRemoval([{ name: "a", healthy: true }], "a").allowed, false);
        assert.equal(decideMemberRemoval(healthy, "z").allowed, false);
        // Removing the unhealthy member itself is what repairs the cluster.
        assert.equal(decideMemberRemoval(oneDown, "b").allowed, true);
    });

    it("member removal: an unstarted learner (a failed join) is found by peer URL and is no voter; an unstarted voter still counts", () => {
        const stale = { name: "unstarted-71b4952e897ee7a7", healthy: false, learner: true, started: false, peerUrls: ["https://10.0.20.111:2380"] };
        const two = [{ name: "k8s-master", healthy: true }, { name: "k8s-master-2", healthy: true }, stale];
        assert.deepEqual(decideMemberRemoval(two, { name: "k8s-master-3", peerUrl: "https://10.0.20.111:2380" }), { allowed: true, remaining: 2, quorum: 2 });
        assert.equal(decideMemberRemoval(two, "k8s-master-3").allowed, false, "not by a name it never had");
        // Rolling master-2 back: the stale learner is not an unhealthy voter.
        assert.deepEqual(decideMemberRemoval(two, "k8s-master-2", { protectedMembers: ["k8s-master"] }), { allowed: true, remaining: 1, quorum: 1 });
        // Added without --learner, raft counts it: removing a healthy voter would leave 1 of 2.
        const voter = { ...stale, learner: false, healthy: true };
        const refused = decideMemberRemoval([two[0], two[1], voter], "k8s-master-2");
        assert.equal(refused.allowed, false);
        assert.deepEqual(!refused.allowed && [refused.rule, refused.unhealthy], ["below-quorum", ["unstarted-71b4952e897ee7a7"]], "never healthy, whatever the probe said");
    });
});

describe("capacity arithmetic (topology/capacity.ts)", () => {
    const lab = { node: "pve", physicalGiB: 267, committedGiB: 262, hostReserveGiB: 8 };
    const masters = (gib: number) => [{ name: "k8s-master-2", memoryGiB: gib }, { name: "k8s-master-3", memoryGiB: gib }];

    it("reproduces the seed's deferral: 262 of 267 committed cannot take 2 x 16 GiB", () => {
        const row = capacityRow(lab, masters(16));
        assert.equal(row.fits, false);
        assert.equal(row.plannedGiB, 32);
        assert.equal(row.headroomGiB, -35);
        const text = describeCapacity(row);
        for (const figure of ["267 GiB physical", "262 GiB committed", "32 GiB planned", "over by 35 GiB"]) assert.ok(text.includes(figure), figure);
    });

    it("fits once the host has room, and 32 GiB masters block it again", () => {
        assert.equal(capacityRow({ ...lab, committedGiB: 200 }, masters(16)).fits, true);
        assert.equal(capacityRow({ ...lab, committedGiB: 200 }, masters(32)).fits, false);
        assert.equal(capacityRow({ ...lab, committedGiB: 227 }, masters(16)).headroomGiB, 0, "exactly full fits");
        assert.equal(capacityRow({ ...lab, committedGiB: 227 }, masters(16)).fits, true);
    });
});

describe("addresses, phases, MACs", () => {
    it("MetalLB ranges accept FIRST-LAST and CIDR", () => {
        assert.ok(inRange("10.0.20.210", parseRange("10.0.20.200-10.0.20.220")!));
        assert.ok(!inRange("10.0.20.99", parseRange("10.0.20.200-10.0.20.220")!));
        assert.ok(inRange("10.0.20.200", parseRange("10.0.20.192/27")!));
        assert.equal(parseRange("10.0.20.9-10.0.20.1"), undefined);
    });

    it("phase table order follows the seed plan", () => {
        assert.deepEqual(phasesUpTo("7").map((p) => p.id), ["0", "1", "1.5", "2", "3", "4", "4.5", "5", "6", "7"]);
        assert.deepEqual(phasesUpTo("1.5").map((p) => p.id), ["0", "1", "1.5"]);
    });

    it("the quorum plan walks 1, 2, 3 members for the lab", () => {
        const t = loadTopology(labConfig("7").raw, { project: "ha-control-plane", stack: "lab", readProjectFile });
        assert.deepEqual(quorumPlan(t).map((s) => [s.phase, s.master, s.members, s.quorum, s.faultTolerance]), [
            ["0", "k8s-master", 1, 1, 0],
            ["2", "k8s-master-2", 2, 2, 0],
            ["3", "k8s-master-3", 3, 2, 1],
        ]);
        assert.equal(quorumPlan(t, "1").length, 1);
    });

    it("stable MACs are deterministic, distinct per VMID, and Proxmox-prefixed", () => {
        assert.equal(stableMac("p", "s", 205), stableMac("p", "s", 205));
        assert.notEqual(stableMac("p", "s", 205), stableMac("p", "s", 206));
        assert.match(stableMac("p", "s", 205), /^BC:24:11:[0-9A-F]{2}:[0-9A-F]{2}:[0-9A-F]{2}$/);
    });
});
