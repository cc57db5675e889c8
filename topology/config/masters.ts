/** Key `masters`: the control-plane nodes in join order, the existing master first. */
import { KUBEADM_MIN_CONTROL_PLANE_CORES, KUBEADM_MIN_CONTROL_PLANE_MEMORY_GIB } from "../kubeadm";
import { checkFinalControlPlane } from "../quorum";
import type { MasterSpec, ProxmoxConfig } from "../types";
import { DNS_LABEL, Reader } from "./reader";

const MAC = /^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$/;

export const MASTER_DEFAULTS = Object.freeze({ existing: false });

/** The existing master's size where the config leaves it out; the stack never changes that VM. */
export const EXISTING_MASTER_DEFAULTS = Object.freeze({ cores: 2, memoryGiB: 2 });

export function readMaster(r: Reader, value: unknown, i: number): MasterSpec {
    const key = `masters[${i}]`;
    const m = r.object(value, key);
    const existing = r.boolean(m, "existing", `${key}.existing`, MASTER_DEFAULTS.existing);
    const macAddress = r.optionalString(m, "macAddress", `${key}.macAddress`);
    if (macAddress && !MAC.test(macAddress)) r.fail(`${key}.macAddress`, macAddress, "must be six hex octets separated by colons");
    const name = r.string(m, "name", `${key}.name`);
    if (name && !DNS_LABEL.test(name)) r.fail(`${key}.name`, name, "must be a lowercase DNS label (it becomes the hostname and the Kubernetes node name)");
    const cores = r.integer(m, "cores", `${key}.cores`, 1, 512, existing ? EXISTING_MASTER_DEFAULTS.cores : undefined);
    const memoryGiB = r.number(m, "memoryGiB", `${key}.memoryGiB`, 0.001, existing ? EXISTING_MASTER_DEFAULTS.memoryGiB : undefined);
    if (!existing) {
        if (cores < KUBEADM_MIN_CONTROL_PLANE_CORES) {
            r.fail(`${key}.cores`, m.cores, `kubeadm's preflight needs at least ${KUBEADM_MIN_CONTROL_PLANE_CORES} CPUs on a control-plane node`);
        }
        if (memoryGiB < KUBEADM_MIN_CONTROL_PLANE_MEMORY_GIB) {
            r.fail(`${key}.memoryGiB`, m.memoryGiB, `kubeadm's preflight needs at least ${KUBEADM_MIN_CONTROL_PLANE_MEMORY_GIB} GiB on a control-plane node`);
        }
    }
    return {
        name,
        ip: r.ipv4(m, "ip", `${key}.ip`),
        vmId: r.integer(m, "vmId", `${key}.vmId`, 100, 999999999),
        node: r.string(m, "node", `${key}.node`),
        cores,
        memoryGiB,
        diskGiB: existing ? 0 : r.integer(m, "diskGiB", `${key}.diskGiB`, 20, 65536),
        existing,
        ...(macAddress ? { macAddress: macAddress.toUpperCase() } : {}),
    };
}

export function checkMasters(r: Reader, masters: readonly MasterSpec[], proxmox: ProxmoxConfig): void {
    if (masters.length === 0) return; // already reported as "must be a list" or nothing to check
    const existing = masters.filter((m) => m.existing);
    if (!masters[0].existing || existing.length !== 1) {
        r.fail("masters", masters.map((m) => `${m.name}${m.existing ? " (existing)" : ""}`),
            "the first master, and only the first, must be marked existing: true (the master the cluster already has)");
    }
    const verdict = checkFinalControlPlane(masters.length);
    if (!verdict.ok) r.fail("masters", masters.map((m) => m.name), verdict.rule);
    const nodeNames = new Set(proxmox.nodes.map((n) => n.name));
    masters.forEach((m, i) => {
        if (m.node && proxmox.nodes.length > 0 && !nodeNames.has(m.node)) {
            r.fail(`masters[${i}].node`, m.node, `must be one of the nodes listed in proxmox.nodes (${[...nodeNames].join(", ")})`);
        }
        if (!m.existing && m.vmId === proxmox.templateVmId) {
            r.fail(`masters[${i}].vmId`, m.vmId, "must differ from proxmox.templateVmId (the template the VM is cloned from)");
        }
    });
}
