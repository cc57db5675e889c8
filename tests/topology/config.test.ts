import { strict as assert } from "assert";
import { ConfigError, loadTopology } from "@ha-control-plane/topology";
import { labConfig } from "../helpers/program";
import { readProjectFile } from "../../components/projectFiles";

type Raw = Record<string, any>;
const load = (raw: Raw) => loadTopology(raw, { project: "ha-control-plane", stack: "test", readProjectFile });
const lab = (): Raw => JSON.parse(JSON.stringify(labConfig().raw));

/** Loads the lab config with one edit and returns the ConfigError it must raise. */
function rejection(edit: (raw: Raw) => void): ConfigError {
    const raw = lab();
    edit(raw);
    try {
        load(raw);
    } catch (err) {
        assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
        return err;
    }
    assert.fail("the config was accepted");
}

describe("config validation (topology/config/)", () => {
    it("accepts the lab stack and derives the facts the program needs", () => {
        const t = load(lab());
        assert.equal(t.existingMaster.name, "k8s-master");
        assert.equal(t.existingMaster.vmId, 200);
        assert.deepEqual(t.newMasters.map((m) => [m.name, m.ip, m.vmId]), [["k8s-master-2", "10.0.20.110", 205], ["k8s-master-3", "10.0.20.111", 206]]);
        assert.equal(t.kubernetesMinor, "v1.34");
        assert.equal(t.cluster.apiserverFqdn, "k8s-apiserver.viktorbarzin.lan");
        assert.deepEqual(t.cluster.metallbPool, { first: "10.0.20.200", last: "10.0.20.220" });
        assert.equal(t.proxmox.nodes[0].hostReserveGiB, 8);
        assert.ok(Object.isFrozen(t) && Object.isFrozen(t.masters[1]), "the topology is immutable");
        assert.ok(!JSON.stringify(t).includes("placeholder-for-"), "no secret value in the topology");
    });

    // Each case: a change to the lab config, the key the message must name, and a word of the rule.
    const cases: [string, (raw: Raw) => void, string, RegExp][] = [
        ["malformed master IP", (r) => (r.masters[1].ip = "10.0.20.300"), "masters[1].ip", /IPv4/],
        ["malformed VIP", (r) => (r.cluster.vip = "10.0.20"), "cluster.vip", /IPv4/],
        ["malformed gateway", (r) => (r.cluster.gateway = "gateway"), "cluster.gateway", /IPv4/],
        ["malformed subnet", (r) => (r.cluster.subnet = "10.0.20.0/33"), "cluster.subnet", /CIDR/],
        ["master outside the subnet", (r) => (r.masters[2].ip = "10.0.30.111"), "masters[2].ip", /inside cluster.subnet/],
        ["worker outside the subnet", (r) => (r.workers[0].ip = "192.168.1.50"), "workers[0].ip", /inside cluster.subnet/],
        ["VIP outside the subnet", (r) => (r.cluster.vip = "10.0.21.99"), "cluster.vip", /inside cluster.subnet/],
        ["gateway outside the subnet", (r) => (r.cluster.gateway = "10.0.21.1"), "cluster.gateway", /inside cluster.subnet/],
        ["VIP inside the MetalLB pool", (r) => (r.cluster.vip = "10.0.20.205"), "cluster.vip", /metallbPool/],
        ["VIP equal to a node IP", (r) => (r.cluster.vip = "10.0.20.100"), "cluster.vip", /node IP/],
        ["VIP equal to the gateway", (r) => (r.cluster.vip = "10.0.20.1"), "cluster.vip", /gateway/],
        ["master IP inside the MetalLB pool", (r) => (r.masters[1].ip = "10.0.20.201"), "masters[1].ip", /metallbPool/],
        ["malformed MetalLB pool", (r) => (r.cluster.metallbPool = "10.0.20.220-10.0.20.200"), "cluster.metallbPool", /FIRST-LAST/],
        ["duplicate master name", (r) => (r.masters[2].name = "k8s-master-2"), "masters[2].name", /duplicate node name/],
        ["worker named like a master", (r) => (r.workers[1].name = "k8s-master"), "workers[1].name", /duplicate node name/],
        ["duplicate VMID", (r) => (r.masters[2].vmId = 205), "masters[2].vmId", /duplicate VMID/],
        ["duplicate IP", (r) => (r.masters[2].ip = "10.0.20.110"), "masters[2].ip", /duplicate IP/],
        ["new master cloned over the template", (r) => (r.masters[1].vmId = r.proxmox.templateVmId), "masters[1].vmId", /templateVmId/],
        ["even number of masters", (r) => r.masters.push({ ...r.masters[2], name: "k8s-master-4", ip: "10.0.20.112", vmId: 207 }), "masters", /even/],
        ["fewer than three masters", (r) => r.masters.pop(), "masters", /at least 3/],
        ["master with one core", (r) => (r.masters[1].cores = 1), "masters[1].cores", /at least 2 CPUs/],
        ["master with 1 GiB", (r) => (r.masters[2].memoryGiB = 1), "masters[2].memoryGiB", /at least 2 GiB/],
        ["master on an unknown Proxmox node", (r) => (r.masters[1].node = "pve2"), "masters[1].node", /proxmox\.nodes/],
        ["unknown targetPhase", (r) => (r.targetPhase = "2.5"), "targetPhase", /phase ids/],
        ["kubernetesVersion with a v", (r) => (r.kubernetesVersion = "v1.34.8"), "kubernetesVersion", /MAJOR\.MINOR\.PATCH/],
        ["kubernetesVersion without a patch", (r) => (r.kubernetesVersion = "1.34"), "kubernetesVersion", /MAJOR\.MINOR\.PATCH/],
        ["first master not the existing one", (r) => (r.masters[0].existing = false), "masters", /existing: true/],
        ["VLAN out of range", (r) => (r.proxmox.vlanId = 4095), "proxmox.vlanId", /1 to 4094/],
        ["plain-http Proxmox endpoint", (r) => (r.proxmox.endpoint = "http://pve:8006/"), "proxmox.endpoint", /https/],
        ["host reserve above physical memory", (r) => (r.proxmox.nodes[0].hostReserveGiB = 300), "proxmox.nodes[0].hostReserveGiB", /less than physicalMemoryGiB/],
        ["negative committed memory", (r) => (r.proxmox.nodes[0].committedMemoryGiB = -1), "proxmox.nodes[0].committedMemoryGiB", /at least 0/],
        ["unknown load balancer kind", (r) => (r.loadBalancer.kind = "nginx"), "loadBalancer.kind", /pfsense, haproxy/],
        ["missing SSH private key", (r) => delete r.ssh.privateKey, "ssh.privateKey", /--secret/],
        ["malformed SSH public key", (r) => (r.ssh.publicKey = "not a key"), "ssh.publicKey", /OpenSSH/],
        ["master name not a DNS label", (r) => (r.masters[1].name = "K8s_Master_2"), "masters[1].name", /DNS label/],
        ["disk too small", (r) => (r.masters[1].diskGiB = 5), "masters[1].diskGiB", /20 to/],
        ["apiserver port out of range", (r) => (r.cluster.apiserverPort = 70000), "cluster.apiserverPort", /1 to 65535/],
    ];

    for (const [title, edit, key, rule] of cases) {
        it(`refuses ${title}, naming ${key}`, () => {
            const err = rejection(edit);
            const issue = err.issues.find((i) => i.key === key && rule.test(i.rule));
            assert.ok(issue, `no issue for ${key} matching ${rule}; got:\n${err.message}`);
            assert.ok(err.message.includes(key), "the message names the key");
        });
    }

    it("reports every problem at once, each with its value", () => {
        const err = rejection((r) => {
            r.cluster.vip = "10.0.20.100";
            r.masters[1].cores = 1;
            r.kubernetesVersion = "latest";
        });
        assert.ok(err.issues.length >= 3);
        assert.match(err.message, /cluster\.vip = "10\.0\.20\.100"/);
        assert.match(err.message, /masters\[1\]\.cores = 1/);
        assert.match(err.message, /kubernetesVersion = "latest"/);
    });

    it("never echoes a secret's value in an error", () => {
        const err = rejection((r) => {
            r.ssh.privateKey = 12345;
            r.masters[1].cores = 1;
        });
        assert.ok(!err.message.includes("12345"));
    });

    it("accepts integers given as strings, as pulumi config set stores them", () => {
        const raw = lab();
        raw.masters[1].cores = "4";
        raw.proxmox.vlanId = "20";
        const t = load(raw);
        assert.equal(t.newMasters[0].cores, 4);
        assert.equal(t.proxmox.vlanId, 20);
    });
});
