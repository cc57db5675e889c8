import { strict as assert } from "assert";
import { etcdQuorum, etcdQuorumTransition } from "../../policies/etcdQuorum";
import { memberTag } from "@ha-control-plane/topology";
import { recordLab } from "../helpers/program";
import { resource, violationsOf } from "../helpers/policy";

const master = (member: number, of: number) =>
    resource("proxmoxve:index/vmLegacy:VmLegacy", `m${member}-vm`, {
        name: `k8s-master-${member}`,
        nodeName: "pve",
        memory: { dedicated: 16384 },
        tags: ["k8s-control-plane", memberTag(member, of)],
    });

describe("policy etcd-quorum", () => {
    it("is mandatory; its transition companion is advisory", () => {
        assert.equal(etcdQuorum.enforcementLevel, "mandatory");
        assert.equal(etcdQuorumTransition.enforcementLevel, "advisory");
    });

    it("passes a 3-member plan", async () => {
        assert.deepEqual(await violationsOf(etcdQuorum, [master(2, 3), master(3, 3)]), []);
    });

    it("passes a 5-member plan", async () => {
        assert.deepEqual(await violationsOf(etcdQuorum, [2, 3, 4, 5].map((m) => master(m, 5))), []);
    });

    it("refuses a planned even control plane (4 members)", async () => {
        const [v] = await violationsOf(etcdQuorum, [2, 3, 4].map((m) => master(m, 4)));
        assert.equal(v.enforcementLevel, "mandatory");
        assert.match(v.message, /even/);
    });

    it("refuses a planned 2-member control plane", async () => {
        const [v] = await violationsOf(etcdQuorum, [master(2, 2)]);
        assert.match(v.message, /at least 3/);
    });

    it("refuses masters that disagree on the planned size", async () => {
        const [v] = await violationsOf(etcdQuorum, [master(2, 3), master(3, 5)]);
        assert.match(v.message, /disagree/);
    });

    it("refuses two masters claiming the same etcd position", async () => {
        const violations = await violationsOf(etcdQuorum, [master(2, 3), master(2, 3)]);
        assert.ok(violations.some((v) => /same|position 2/.test(v.message)));
    });

    it("at phase 2 the transition policy warns that 2 members tolerate no failure", async () => {
        const [v] = await violationsOf(etcdQuorumTransition, [master(2, 3)]);
        assert.equal(v.enforcementLevel, "advisory");
        assert.match(v.message, /quorum 2, fault tolerance 0/);
        assert.deepEqual(await violationsOf(etcdQuorumTransition, [master(2, 2)]), [], "a final size is etcd-quorum's business");
    });

    it("on the lab's recorded graph: no mandatory violation at any master phase", async () => {
        for (const phase of ["2", "3", "7"]) {
            assert.deepEqual(await violationsOf(etcdQuorum, (await recordLab(phase)).resources), [], `phase ${phase}`);
        }
        const transition = await violationsOf(etcdQuorumTransition, (await recordLab("2")).resources);
        assert.equal(transition.length, 1);
    });
});
