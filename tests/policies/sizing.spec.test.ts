import { strict as assert } from "assert";
import { controlPlaneSizing } from "../../policies/sizing";
import { memberTag } from "@ha-control-plane/topology";
import { cachedLab, recordLab } from "../helpers/program";
import { labPolicyConfig, resource, violationsOf } from "../helpers/policy";

const master = (memoryGiB: number) =>
    resource("proxmoxve:index/vmLegacy:VmLegacy", "k8s-master-2-vm", { name: "k8s-master-2", nodeName: "pve", memory: { dedicated: memoryGiB * 1024 }, tags: ["k8s-control-plane", memberTag(2, 3)] });

describe("policy control-plane-sizing", () => {
    // The lab's measured working set (4.6 GiB) comes from policies/lab.json, as the CLI gets it.
    const lab = () => labPolicyConfig();

    it("is advisory; the working set is required config (a measurement of one cluster, no default), 4x the default ratio", () => {
        assert.equal(controlPlaneSizing.enforcementLevel, "advisory");
        assert.equal(controlPlaneSizing.configSchema?.properties.observedWorkingSetGiB.default, undefined);
        assert.deepEqual(controlPlaneSizing.configSchema?.required, ["observedWorkingSetGiB"]);
        assert.equal(controlPlaneSizing.configSchema?.properties.maxRatio.default, 4);
        assert.equal(lab()["control-plane-sizing"].observedWorkingSetGiB, 4.6);
    });

    it("without the working set in its config it says it cannot advise, and takes no other cluster's figure", async () => {
        const [v, ...rest] = await violationsOf(controlPlaneSizing, [master(32)]);
        assert.deepEqual(rest, []);
        assert.match(v.message, /cannot advise on the masters' RAM: the policy config gives no observedWorkingSetGiB/);
        assert.deepEqual(await violationsOf(controlPlaneSizing, []), [], "nothing to advise on, nothing said");
    });

    it("passes a 16 GiB master (3.5x the working set)", async () => {
        assert.deepEqual(await violationsOf(controlPlaneSizing, [master(16)], lab()), []);
    });

    it("advises against a 32 GiB master, the existing master's size (7x what it uses)", async () => {
        const [v] = await violationsOf(controlPlaneSizing, [master(32)], lab());
        assert.equal(v.enforcementLevel, "advisory");
        assert.match(v.message, /k8s-master-2 gets 32 GiB, 7x the observed working set of 4\.6 GiB \(more than 4x\).*19 GiB or less would do/);
    });

    it("advises against a master below the working set", async () => {
        const [v] = await violationsOf(controlPlaneSizing, [master(4)], lab());
        assert.match(v.message, /less than the observed working set of 4\.6 GiB: it would swap/);
    });

    it("takes the working set and the ratio from the config", async () => {
        const config = { "control-plane-sizing": { observedWorkingSetGiB: 10, maxRatio: 2 } };
        assert.equal((await violationsOf(controlPlaneSizing, [master(32)], config)).length, 1);
        assert.deepEqual(await violationsOf(controlPlaneSizing, [master(16)], config), []);
    });

    it("on the lab's recorded graph: the 16 GiB masters pass; at 32 GiB both are advised against", async () => {
        assert.deepEqual(await violationsOf(controlPlaneSizing, (await cachedLab("3")).resources, lab()), []);
        const big = await recordLab("3", (raw) => {
            for (const m of (raw.masters as { memoryGiB: number }[]).slice(1)) m.memoryGiB = 32;
        });
        assert.equal((await violationsOf(controlPlaneSizing, big.resources, lab())).length, 2);
    });
});
