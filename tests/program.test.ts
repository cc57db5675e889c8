import { strict as assert } from "assert";
import { PHASE_IDS, proxmoxTagOrder } from "@ha-control-plane/topology";
import { SECRET } from "../tools/recorder";
import { nameOf, recordLab } from "./helpers/program";

const VM = "proxmoxve:index/vmLegacy:VmLegacy";
const SNIPPET = "proxmoxve:index/fileLegacy:FileLegacy";

describe("program under mocks (lab stack)", () => {
    it("registers only the phases up to targetPhase, chained in table order", async () => {
        for (const target of ["0", "1.5", "3", "7"]) {
            const { resources } = await recordLab(target);
            const phases = resources.filter((r) => r.type === "ha-control-plane:index:Phase").map((r) => r.name);
            const expected = PHASE_IDS.slice(0, PHASE_IDS.indexOf(target as never) + 1).map((id) => `phase-${id.replace(".", "-")}`);
            assert.deepEqual(phases, expected, `target ${target}`);
        }
    });

    it("creates no Proxmox resource before phase 2, and never one for the existing master", async () => {
        const early = await recordLab("1.5");
        assert.equal(early.resources.filter((r) => r.type.startsWith("proxmoxve:") || r.type === "pulumi:providers:proxmoxve").length, 0);
        const all = await recordLab("7");
        const vmIds = all.resources.filter((r) => r.type === VM).map((r) => r.inputs.vmId);
        assert.deepEqual(vmIds, [205, 206]);
        assert.ok(!vmIds.includes(200), "VMID 200 is the existing master");
    });

    it("phase 2 brings k8s-master-2 and phase 3 k8s-master-3, with the lab's sizes", async () => {
        const at2 = await recordLab("2");
        assert.deepEqual(at2.resources.filter((r) => r.type === VM).map((r) => r.inputs.name), ["k8s-master-2"]);
        const { resources } = await recordLab("3");
        const vm = resources.find((r) => r.type === VM && r.inputs.name === "k8s-master-3")!;
        const inputs = vm.inputs as Record<string, any>;
        assert.equal(inputs.vmId, 206);
        assert.equal(inputs.nodeName, "pve");
        assert.deepEqual(inputs.clone, { vmId: 9000, full: true, datastoreId: "local-lvm", retries: 3 });
        assert.equal(inputs.cpu.cores, 8);
        assert.equal(inputs.memory.dedicated, 16 * 1024);
        assert.equal(inputs.disks[0].size, 64);
        assert.equal(inputs.networkDevices[0].bridge, "vmbr1");
        assert.equal(inputs.networkDevices[0].vlanId, 20);
        assert.match(inputs.networkDevices[0].macAddress, /^BC:24:11(:[0-9A-F]{2}){3}$/);
        assert.deepEqual(inputs.initialization.ipConfigs, [{ ipv4: { address: "10.0.20.111/24", gateway: "10.0.20.1" } }]);
        // Sorted as Proxmox stores them, so a refresh reads back what was sent (no diff on every run).
        assert.deepEqual(inputs.tags, ["etcd-member-3-of-3", "k8s-control-plane"]);
        assert.deepEqual(inputs.tags, proxmoxTagOrder(inputs.tags));
        assert.deepEqual(proxmoxTagOrder(["k8s-control-plane", "etcd-member-3-of-3", "Etcd-Member-3-of-3", "a"]), ["a", "etcd-member-3-of-3", "k8s-control-plane"]);
        assert.deepEqual(vm.ignoreChanges, ["clone", "initialization.userDataFileId"], "user-data matters at first boot only: a running master is never replaced for it");
    });

    it("keeps each master's MAC the same across runs", async () => {
        const mac = async () =>
            ((await recordLab("3")).resources.filter((r) => r.type === VM) as { inputs: Record<string, any> }[]).map(
                (r) => r.inputs.networkDevices[0].macAddress,
            );
        const [a, b] = [await mac(), await mac()];
        assert.deepEqual(a, b);
        assert.notEqual(a[0], a[1]);
    });

    it("uploads a user-data snippet per master and points the VM at it", async () => {
        const { resources } = await recordLab("3");
        const snippets = resources.filter((r) => r.type === SNIPPET);
        assert.equal(snippets.length, 2);
        for (const s of snippets) {
            assert.equal(s.inputs.contentType, "snippets");
            // Same file id after a change: the old one goes first, or its delete removes the new upload.
            assert.equal(s.deleteBeforeReplace, true, `${s.name} is replaced delete-first`);
        }
        const vm = resources.find((r) => r.type === VM && r.inputs.name === "k8s-master-2")!;
        assert.equal((vm.inputs as Record<string, any>).initialization.userDataFileId, "local:snippets/k8s-master-2-user-data.yaml");
    });

    it("orders the graph: VMs after the capacity gate, master-3 after master-2", async () => {
        const { resources } = await recordLab("3");
        const byName = new Map(resources.map((r) => [r.name, r]));
        const deps = (name: string) => byName.get(name)!.dependencies.map(nameOf);
        assert.ok(deps("k8s-master-2-vm").includes("capacity-pve-check"));
        assert.ok(deps("k8s-master-2-user-data").includes("capacity-pve-check"));
        assert.ok(deps("k8s-master-3-vm").includes("k8s-master-2-vm"));
        assert.ok(!deps("k8s-master-2-vm").includes("k8s-master-3-vm"));
    });

    it("carries the capacity facts on the gate and keeps every secret out of the recording", async () => {
        const { resources } = await recordLab("7");
        const gate = resources.find((r) => r.name === "capacity-pve-check" && r.custom)!;
        assert.deepEqual(gate.inputs.triggers, [
            { kind: "ha-control-plane/proxmox-capacity", node: "pve", physicalGiB: 267, committedGiB: 262, hostReserveGiB: 8 },
        ]);
        assert.equal((gate.inputs.connection as unknown), SECRET, "the connection carries the private key");
        const provider = resources.find((r) => r.type === "pulumi:providers:proxmoxve")!;
        assert.equal(provider.inputs.apiToken, SECRET);
        const text = JSON.stringify(resources);
        assert.ok(!text.includes("placeholder-for-"), "no secret value in any recorded input");
    });

    it("refuses bad config before registering anything", async () => {
        await assert.rejects(
            recordLab("7", (raw) => {
                (raw.cluster as Record<string, unknown>).vip = "10.0.20.210";
            }),
            (err: Error) => err.name === "ConfigError" && /cluster\.vip/.test(err.message),
        );
    });
});
