import { strict as assert } from "assert";
import { ramHeadroom } from "../../policies/ramHeadroom";
import { capacityTrigger } from "@ha-control-plane/topology";
import { RecordedValue } from "../../tools/recorder";
import { recordLab } from "../helpers/program";
import { resource, violationsOf } from "../helpers/policy";

const vm = (name: string, memoryMiB: number, node = "pve") =>
    resource("proxmoxve:index/vmLegacy:VmLegacy", `${name}-vm`, { name, nodeName: node, memory: { dedicated: memoryMiB }, tags: [] });
const gate = (node: string, committedGiB: number) =>
    resource("command:remote:Command", `capacity-${node}-check`, {
        triggers: [capacityTrigger({ node, physicalGiB: 267, committedGiB, hostReserveGiB: 8 }) as unknown as RecordedValue],
    });

describe("policy ram-headroom", () => {
    it("is a mandatory stack policy", () => {
        assert.equal(ramHeadroom.enforcementLevel, "mandatory");
        assert.equal(typeof ramHeadroom.validateStack, "function");
    });

    it("passes a plan that fits (200 GiB committed + 2 x 16 GiB)", async () => {
        assert.deepEqual(await violationsOf(ramHeadroom, [gate("pve", 200), vm("m2", 16384), vm("m3", 16384)]), []);
    });

    it("passes a stack with no VMs (phases 0 to 1.5)", async () => {
        assert.deepEqual(await violationsOf(ramHeadroom, [gate("pve", 262)]), []);
    });

    it("refuses the seed's figures: 262 GiB committed + 2 x 16 GiB", async () => {
        const [v, ...rest] = await violationsOf(ramHeadroom, [gate("pve", 262), vm("m2", 16384), vm("m3", 16384)]);
        assert.equal(rest.length, 0);
        assert.equal(v.enforcementLevel, "mandatory");
        for (const figure of ["267 GiB physical", "262 GiB committed", "32 GiB planned"]) assert.ok(v.message.includes(figure), v.message);
    });

    it("refuses when one master grows to 32 GiB on a host with room for 16", async () => {
        const violations = await violationsOf(ramHeadroom, [gate("pve", 220), vm("m2", 16384), vm("m3", 32768)]);
        assert.equal(violations.length, 1);
    });

    it("refuses a VM on a node the stack has no capacity facts for", async () => {
        const [v] = await violationsOf(ramHeadroom, [gate("pve", 200), vm("m2", 16384, "pve2")]);
        assert.match(v.message, /pve2.*no capacity/);
    });

    it("judges each node on its own", async () => {
        const violations = await violationsOf(ramHeadroom, [gate("pve", 200), gate("pve2", 262), vm("m2", 16384), vm("m3", 16384, "pve2")]);
        assert.equal(violations.length, 1);
        assert.match(violations[0].message, /node pve2/);
    });

    it("on the lab's recorded graph: blocked at phase 3, clean at phase 1.5, clean at 200 GiB committed", async () => {
        assert.equal((await violationsOf(ramHeadroom, (await recordLab("3")).resources)).length, 1);
        assert.equal((await violationsOf(ramHeadroom, (await recordLab("1.5")).resources)).length, 0);
        const roomy = await recordLab("7", (raw) => {
            (raw.proxmox as { nodes: { committedMemoryGiB: number }[] }).nodes[0].committedMemoryGiB = 200;
        });
        assert.deepEqual(await violationsOf(ramHeadroom, roomy.resources), []);
    });
});
