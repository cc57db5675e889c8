import { strict as assert } from "assert";
import { originalMasterProtected } from "../../policies/protection";
import { COMPONENT_TYPES as T, joinFacts, memberTag, protectArg, vmidArg } from "@ha-control-plane/topology";
import { PolicyConfig } from "../../tools/policyRunner";
import { RecordedResource } from "../../tools/recorder";
import { cachedLab } from "../helpers/program";
import { component, labPolicyConfig, recorded, resource, violationsOf } from "../helpers/policy";

const CMD = "command:remote:Command";
const config: PolicyConfig = { "original-master-protected": { vmId: 200, name: "k8s-master" } };
const urn = (n: string) => `urn:pulumi:spec::ha-control-plane::spec::${n}`;

interface Parts {
    vmId?: number;
    resetDelete?: string;
    removal?: string;
    snapshotDelete?: string;
}

/** The lab's shape in miniature: phase 0's snapshot of VMID 200, a new master (VMID 205) with its rollback steps. */
function stack(p: Parts = {}): RecordedResource[] {
    const retrofit = component(T.retrofit, "retrofit");
    const cpj = component(T.controlPlaneJoin, "k8s-master-2", { facts: recorded(joinFacts({ node: "k8s-master-2", member: 2, of: 3, join: urn("join"), gate: urn("gate"), membership: urn("membership") })) });
    return [
        retrofit,
        resource(CMD, "retrofit-proxmox-snapshot", { create: `bash -s -- create ${vmidArg(200)} --name pre-ha-retrofit`, delete: p.snapshotDelete ?? `bash -s -- delete ${vmidArg(200)} --name pre-ha-retrofit --keep` }, { parent: retrofit.urn }),
        resource("proxmoxve:index/vmLegacy:VmLegacy", "k8s-master-2-vm", { name: "k8s-master-2", vmId: p.vmId ?? 205, nodeName: "pve", memory: { dedicated: 16384 }, tags: ["k8s-control-plane", memberTag(2, 3)] }),
        cpj,
        resource(CMD, "k8s-master-2-node-reset", { create: `bash -s -- --check ${vmidArg(205)} --node-name k8s-master-2`, delete: p.resetDelete ?? `bash -s -- ${vmidArg(205)} --node-name k8s-master-2 --timeout 300` }, { parent: cpj.urn }),
        resource(CMD, "k8s-master-2-etcd-membership", { create: "bash -s -- pre-join --node k8s-master-2", delete: p.removal ?? `bash -s -- remove --node k8s-master-2 --peer-url https://10.0.20.110:2380 ${protectArg("k8s-master")}` }, { urn: urn("membership"), parent: cpj.urn }),
    ];
}

describe("policy original-master-protected", () => {
    it("is mandatory; the existing master's VMID and name are required config", () => {
        assert.equal(originalMasterProtected.enforcementLevel, "mandatory");
        assert.deepEqual(originalMasterProtected.configSchema?.required, ["vmId", "name"]);
    });

    it("passes the stack's shape: only phase 0's snapshot touches VMID 200, rollbacks protect k8s-master", async () => {
        assert.deepEqual(await violationsOf(originalMasterProtected, stack(), config), []);
    });

    it("refuses a VM resource with the existing master's VMID", async () => {
        const [v] = await violationsOf(originalMasterProtected, stack({ vmId: 200 }), config);
        assert.equal(v.enforcementLevel, "mandatory");
        assert.match(v.message, /k8s-master-2-vm \(proxmoxve:index\/vmLegacy:VmLegacy\) has VMID 200, the existing master k8s-master's: the stack would own that VM, and a replace or a destroy would delete/);
    });

    it("refuses a rollback that would reset VMID 200 through the guest agent", async () => {
        const [v] = await violationsOf(originalMasterProtected, stack({ resetDelete: `bash -s -- ${vmidArg(200)} --node-name k8s-master-2` }), config);
        assert.match(v.message, /k8s-master-2-node-reset's delete command acts on VMID 200, the existing master k8s-master/);
    });

    it("refuses a rollback that targets the existing master's node", async () => {
        const [v] = await violationsOf(originalMasterProtected, stack({ resetDelete: `bash -s -- ${vmidArg(205)} --node-name k8s-master` }), config);
        assert.match(v.message, /k8s-master-2-node-reset's delete \(the rollback of k8s-master-2\) targets node k8s-master, the existing master/);
    });

    it("refuses an etcd member removal without --protect for the existing master", async () => {
        const [v] = await violationsOf(originalMasterProtected, stack({ removal: "bash -s -- remove --node k8s-master-2 --peer-url https://10.0.20.110:2380" }), config);
        assert.match(v.message, /removes an etcd member without protecting k8s-master \(--protect k8s-master\)/);
    });

    it("reports, stack-wide, when it does not know the existing master", async () => {
        const [v] = await violationsOf(originalMasterProtected, stack());
        assert.equal(v.urn, undefined);
        assert.match(v.message, /cannot protect the existing master: the policy config gives no vmId and name/);
    });

    describe("on the lab's recorded graph", () => {
        it("passes with policies/lab.json at phases 0, 3 and 7", async () => {
            for (const phase of ["0", "3", "7"]) assert.deepEqual(await violationsOf(originalMasterProtected, (await cachedLab(phase)).resources, labPolicyConfig()), [], `phase ${phase}`);
        });

        it("refuses the lab's plan were VMID 205 the existing master (its VM and its rollback act on it)", async () => {
            const violations = await violationsOf(originalMasterProtected, (await cachedLab("3")).resources, { "original-master-protected": { vmId: 205, name: "k8s-master-2" } });
            const messages = violations.map((v) => v.message);
            assert.ok(messages.some((m) => /^k8s-master-2-vm .* has VMID 205/.test(m)), messages.join("\n"));
            assert.ok(messages.some((m) => /^k8s-master-2-node-reset's delete command acts on VMID 205/.test(m)));
            assert.ok(messages.some((m) => /^k8s-master-2-etcd-membership's delete \(the rollback of k8s-master-2\) targets node k8s-master-2/.test(m)));
        });
    });
});
