import { strict as assert } from "assert";
import { vipConflictsPolicy } from "../../policies/network";
import { COMPONENT_TYPES as T, endpointFacts, memberTag } from "@ha-control-plane/topology";
import { PolicyConfig } from "../../tools/policyRunner";
import { RecordedResource } from "../../tools/recorder";
import { cachedLab } from "../helpers/program";
import { component, labPolicyConfig, recorded, resource, violationsOf } from "../helpers/policy";

const config = (over: Record<string, unknown> = {}): PolicyConfig => ({
    "vip-conflicts": { gateway: "10.0.20.1", metallbPool: "10.0.20.200-10.0.20.220", nodeAddresses: { "k8s-node1": "10.0.20.50" }, ...over },
});

/** Phase 0's endpoint (the retrofit's facts) and a new master's VM, compliant. */
function graph(vip = "10.0.20.99", vmAddress = "10.0.20.110/24"): RecordedResource[] {
    return [
        component(T.retrofit, "retrofit", { facts: recorded(endpointFacts({ vip, port: 6443, master: "k8s-master", masterIp: "10.0.20.100" })) }),
        resource("proxmoxve:index/vmLegacy:VmLegacy", "k8s-master-2-vm", {
            name: "k8s-master-2",
            nodeName: "pve",
            memory: { dedicated: 16384 },
            tags: ["k8s-control-plane", memberTag(2, 3)],
            initialization: { ipConfigs: [{ ipv4: { address: vmAddress, gateway: "10.0.20.1" } }] },
        }),
    ];
}

describe("policy vip-conflicts", () => {
    it("is mandatory; the gateway and the MetalLB pool are required config", () => {
        assert.equal(vipConflictsPolicy.enforcementLevel, "mandatory");
        assert.deepEqual(vipConflictsPolicy.configSchema?.required, ["gateway", "metallbPool"]);
    });

    it("passes a VIP clear of the gateway, the pool and every node", async () => {
        assert.deepEqual(await violationsOf(vipConflictsPolicy, graph(), config()), []);
    });

    it("refuses the gateway as VIP", async () => {
        const [v] = await violationsOf(vipConflictsPolicy, graph("10.0.20.1"), config());
        assert.equal(v.enforcementLevel, "mandatory");
        assert.match(v.message, /the apiserver VIP 10\.0\.20\.1 \(phase 0's controlPlaneEndpoint 10\.0\.20\.1:6443\) cannot work: it is the gateway 10\.0\.20\.1/);
    });

    it("refuses a VIP inside the MetalLB pool", async () => {
        const [v] = await violationsOf(vipConflictsPolicy, graph("10.0.20.205"), config());
        assert.match(v.message, /inside the MetalLB pool 10\.0\.20\.200-10\.0\.20\.220, so MetalLB could hand it to a Service/);
    });

    it("refuses a VIP that is a node's address: from the graph (a new master's VM) or from the config", async () => {
        const [fromGraph] = await violationsOf(vipConflictsPolicy, graph("10.0.20.110"), config());
        assert.match(fromGraph.message, /it is the address of node k8s-master-2/);
        const [fromConfig] = await violationsOf(vipConflictsPolicy, graph("10.0.20.50"), config());
        assert.match(fromConfig.message, /it is the address of node k8s-node1/);
        const [existing] = await violationsOf(vipConflictsPolicy, graph("10.0.20.100"), config());
        assert.match(existing.message, /it is the address of node k8s-master/);
    });

    it("reports, stack-wide, when it has no gateway or pool to check against", async () => {
        const [v] = await violationsOf(vipConflictsPolicy, graph());
        assert.equal(v.urn, undefined);
        assert.match(v.message, /cannot check the VIP 10\.0\.20\.99: the policy config gives no gateway/);
    });

    describe("on the lab's recorded graph", () => {
        it("passes with policies/lab.json at phases 0, 1 and 7", async () => {
            for (const phase of ["0", "1", "7"]) assert.deepEqual(await violationsOf(vipConflictsPolicy, (await cachedLab(phase)).resources, labPolicyConfig()), [], `phase ${phase}`);
        });

        it("refuses the lab's VIP when MetalLB's pool turns out to cover it (endpoint and LB frontend both named)", async () => {
            const violations = await violationsOf(vipConflictsPolicy, (await cachedLab("1")).resources, { ...labPolicyConfig(), "vip-conflicts": { gateway: "10.0.20.1", metallbPool: "10.0.20.90-10.0.20.109" } });
            assert.deepEqual(violations.map((v) => v.message.split(" cannot")[0]), [
                "the apiserver VIP 10.0.20.99 (phase 0's controlPlaneEndpoint 10.0.20.99:6443)",
                "the apiserver VIP 10.0.20.99 (the load balancer frontend 10.0.20.99:6443)",
            ]);
        });
    });
});
