/**
 * control-plane-spread (one entry per case, each with its own level): starts from a compliant
 * control plane, three masters on three Proxmox nodes, and changes one field per test.
 */
import { strict as assert } from "assert";
import { policies } from "../../policies/pack";
import { ramHeadroom } from "../../policies/ramHeadroom";
import { controlPlaneSpread, controlPlaneSpreadOneNode, controlPlaneSpreadTwoNodes } from "../../policies/spread";
import { capacityTrigger, COMPONENT_TYPES as T, memberTag, NodeCapacityFacts, placementFacts } from "@ha-control-plane/topology";
import { runPolicies, Violation } from "../../tools/policyRunner";
import { RecordedResource } from "../../tools/recorder";
import { cachedLab, labConfig, recordWithConfig } from "../helpers/program";
import { component, labPolicyConfig, recorded, resource } from "../helpers/policy";
import { defineStack } from "../../components/stack";
import { readStackConfig } from "../../components/stackConfig";
import { loadStackConfig } from "../../tools/stackFile";
import { PROJECT_DIR } from "../../tools/planModel";
import * as path from "path";

const SPREAD = [controlPlaneSpread, controlPlaneSpreadTwoNodes, controlPlaneSpreadOneNode];
const TWO_HOSTS = path.resolve(__dirname, "../fixtures/stacks/Pulumi.lab-two-hosts.yaml");

const node = (name: string, committedGiB = 40): NodeCapacityFacts => ({ node: name, physicalGiB: 128, committedGiB, hostReserveGiB: 8 });

interface Layout {
    nodes: NodeCapacityFacts[];
    /** Where k8s-master (existing), k8s-master-2 and k8s-master-3 run. */
    at: [string, string, string];
    /** How many new masters are registered (1: phase 2, 2: phase 3). */
    joined: 1 | 2;
}

const compliant = (): Layout => ({ nodes: [node("pve1"), node("pve2"), node("pve3")], at: ["pve1", "pve2", "pve3"], joined: 2 });

/** The placement facts of phase 2 and the new masters' VMs, as the program registers them. */
function graph(layout: Layout): RecordedResource[] {
    const [existingAt, ...newAt] = layout.at;
    const vms = newAt.slice(0, layout.joined).map((at, i) =>
        resource("proxmoxve:index/vmLegacy:VmLegacy", `k8s-master-${i + 2}-vm`, {
            name: `k8s-master-${i + 2}`,
            nodeName: at,
            memory: { dedicated: 16 * 1024 },
            tags: ["k8s-control-plane", memberTag(i + 2, 3)],
        }),
    );
    return [
        component(T.controlPlanePlacement, "control-plane-placement", {
            facts: recorded(placementFacts({ nodes: layout.nodes, existingMaster: { name: "k8s-master", node: existingAt, memoryGiB: 32 } })),
        }),
        ...vms,
    ];
}

async function spreadVerdicts(layout: Layout): Promise<Violation[]> {
    return runPolicies(SPREAD, graph(layout), labPolicyConfig());
}

describe("policies control-plane-spread (one node, two nodes, three or more)", () => {
    it("one entry per case, each with its own level: advisory, advisory, mandatory", () => {
        assert.deepEqual(SPREAD.map((p) => [p.name, p.enforcementLevel]), [
            ["control-plane-spread", "mandatory"],
            ["control-plane-spread-two-nodes", "advisory"],
            ["control-plane-spread-one-node", "advisory"],
        ]);
        for (const p of SPREAD) assert.ok(policies.includes(p), `${p.name} is in the pack`);
        const lab = labPolicyConfig();
        for (const p of SPREAD) assert.equal(lab[p.name].enforcementLevel, p.enforcementLevel);
    });

    it("3 on three nodes: passes (every host's loss leaves 2 of 3, quorum kept)", async () => {
        assert.deepEqual(await spreadVerdicts(compliant()), []);
    });

    it("2+1 on three nodes: refused, naming the crowded node and a placement that would not be", async () => {
        const [v, ...rest] = await spreadVerdicts({ ...compliant(), at: ["pve1", "pve2", "pve1"] });
        assert.equal(rest.length, 0, "only the three-or-more entry speaks");
        assert.equal(v.policy, "control-plane-spread");
        assert.equal(v.enforcementLevel, "mandatory");
        assert.match(v.message, /^Proxmox node pve1 holds 2 of the 3 etcd members \(k8s-master, k8s-master-3\), as many as the quorum \(2\): losing that one host stops etcd/);
        assert.match(v.message, /A placement that keeps quorum through any one host's loss: k8s-master on pve1 \(existing, stays\), k8s-master-2 on pve2, k8s-master-3 on pve3 \(masters\[\]\.node\)\.$/);
        assert.ok(v.urn?.includes("k8s-master-3-vm"), "reported on the master that crowds the node");
    });

    it("2+1 on three nodes, the free node short of memory: the suggestion says ram-headroom would refuse it", async () => {
        const layout = compliant();
        layout.at = ["pve1", "pve2", "pve1"];
        layout.nodes[2] = node("pve3", 110);
        const [v] = await spreadVerdicts(layout);
        assert.match(v.message, /k8s-master-3 on pve3 \(masters\[\]\.node\)\. At today's figures it does not fit: pve3 over by 6 GiB \(ram-headroom would refuse it\)\.$/);
    });

    it("three nodes at phase 2 (two members on two nodes): passes, 1 per node is below quorum 2", async () => {
        assert.deepEqual(await spreadVerdicts({ ...compliant(), joined: 1 }), []);
    });

    it("three nodes at phase 2, both members on one node: refused", async () => {
        const [v] = await spreadVerdicts({ ...compliant(), at: ["pve1", "pve1", "pve3"], joined: 1 });
        assert.match(v.message, /pve1 holds 2 of the 2 etcd members \(k8s-master, k8s-master-2\), as many as the quorum \(2\)/);
        assert.match(v.message, /k8s-master-2 on pve2/);
    });

    it("one node: advisory, a host failure loses every master", async () => {
        const [v, ...rest] = await spreadVerdicts({ nodes: [node("pve")], at: ["pve", "pve", "pve"], joined: 2 });
        assert.equal(rest.length, 0);
        assert.equal(v.policy, "control-plane-spread-one-node");
        assert.equal(v.enforcementLevel, "advisory");
        assert.match(v.message, /^all 3 etcd members \(k8s-master, k8s-master-2, k8s-master-3\) run on Proxmox node pve, the stack's only node: a host failure .* loses every master at once/);
        assert.match(v.message, /spread the masters 2\+1 \(the seed's revisit trigger 1\)/);
    });

    it("2+1 on two nodes: advisory, naming the node whose loss costs quorum and the one whose does not", async () => {
        const [v, ...rest] = await spreadVerdicts({ nodes: [node("pve"), node("pve2")], at: ["pve", "pve", "pve2"], joined: 2 });
        assert.equal(rest.length, 0);
        assert.equal(v.policy, "control-plane-spread-two-nodes");
        assert.equal(v.enforcementLevel, "advisory");
        assert.match(v.message, /losing pve \(k8s-master, k8s-master-2\) leaves 1 of 3, below quorum 2: etcd stops until it is back/);
        assert.match(v.message, /losing pve2 \(k8s-master-3\) leaves 2 of 3, quorum kept/);
        assert.match(v.message, /With two hosts, pve's loss costs quorum/);
    });

    it("two nodes, all three on one of them: the empty node's loss costs nothing, the other's everything", async () => {
        const [v] = await spreadVerdicts({ nodes: [node("pve"), node("pve2")], at: ["pve", "pve", "pve"], joined: 2 });
        assert.match(v.message, /losing pve \(k8s-master, k8s-master-2, k8s-master-3\) leaves 0 of 3, below quorum 2/);
        assert.match(v.message, /losing pve2 \(no member\) leaves 3 of 3, quorum kept/);
    });

    it("nothing to judge with the existing master alone (phases 0 to 1.5)", async () => {
        assert.deepEqual(await runPolicies(SPREAD, graph(compliant()).slice(0, 1), labPolicyConfig()), []);
    });

    it("new masters without placement facts: the mandatory entry says the spread cannot be checked", async () => {
        const [v, ...rest] = await runPolicies(SPREAD, graph(compliant()).slice(1), labPolicyConfig());
        assert.equal(rest.length, 0);
        assert.equal(v.policy, "control-plane-spread");
        assert.match(v.message, /no placement facts \(no ControlPlanePlacement component\)/);
    });

    it("capacity stays per node: a spread that does not fit is still refused by ram-headroom", async () => {
        const layout = compliant();
        layout.nodes[2] = node("pve3", 110);
        const resources = [
            ...graph(layout),
            ...layout.nodes.map((n) => resource("command:remote:Command", `capacity-${n.node}-check`, { triggers: [recorded(capacityTrigger(n))] })),
        ];
        const violations = await runPolicies([ramHeadroom, ...SPREAD], resources, labPolicyConfig());
        assert.deepEqual(violations.map((v) => v.policy), ["ram-headroom"]);
        assert.match(violations[0].message, /Proxmox node pve3 cannot take the new masters: 110 GiB committed \+ 16 GiB planned/);
    });

    it("on the lab's recorded graph: the one-node advisory from phase 2 on, nothing before", async () => {
        assert.deepEqual(await runPolicies(SPREAD, (await cachedLab("1.5")).resources, labPolicyConfig()), []);
        const [v] = await runPolicies(SPREAD, (await cachedLab("3")).resources, labPolicyConfig());
        assert.equal(v.policy, "control-plane-spread-one-node");
        assert.match(v.message, /all 3 etcd members \(k8s-master, k8s-master-2, k8s-master-3\) run on Proxmox node pve/);
    });

    it("a second host added to the lab's file (2+1): the two-node advisory at phase 3; pve still cannot take k8s-master-2", async () => {
        const stack = loadStackConfig({ projectDir: PROJECT_DIR, configFile: TWO_HOSTS, targetPhase: "3" });
        const { resources } = await recordWithConfig(stack, () => {
            const { topology, secrets } = readStackConfig();
            return defineStack(topology, secrets);
        });
        const violations = await runPolicies([ramHeadroom, ...SPREAD], resources, labPolicyConfig());
        assert.deepEqual(violations.map((v) => v.policy), ["ram-headroom", "control-plane-spread-two-nodes"]);
        assert.match(violations[0].message, /Proxmox node pve cannot take the new masters: 262 GiB committed \+ 16 GiB planned \(k8s-master-2 16 GiB\)/);
        assert.match(violations[1].message, /losing pve \(k8s-master, k8s-master-2\) leaves 1 of 3, below quorum 2.*losing pve2 \(k8s-master-3\) leaves 2 of 3, quorum kept/);
        // The lab's own file is untouched by this: still one node.
        assert.equal((labConfig().raw.proxmox as { nodes: unknown[] }).nodes.length, 1);
    });
});
