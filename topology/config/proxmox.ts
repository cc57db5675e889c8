/** Key `proxmox`: the Proxmox VE API, where new masters are cloned from, and each node's memory. */
import type { ProxmoxConfig, ProxmoxNode } from "../types";
import { Reader } from "./reader";

/** Memory a Proxmox node keeps for the host itself, outside every VM, unless its entry says otherwise. */
export const DEFAULT_HOST_RESERVE_GIB = 8;

/** A node's address defaults to the endpoint's host. */
export const PROXMOX_DEFAULTS = Object.freeze({
    insecure: false,
    snippetsDatastore: "local",
    sshUser: "root",
    nodes: Object.freeze({ hostReserveGiB: DEFAULT_HOST_RESERVE_GIB }),
});

export function readProxmox(r: Reader, value: unknown): ProxmoxConfig {
    const p = r.object(value, "proxmox");
    const endpoint = r.string(p, "endpoint", "proxmox.endpoint");
    let endpointHost = "";
    try {
        const url = new URL(endpoint);
        if (url.protocol !== "https:") throw new Error("not https");
        endpointHost = url.hostname;
    } catch {
        if (endpoint) r.fail("proxmox.endpoint", p.endpoint, "must be an https:// URL of the Proxmox API, such as https://pve.lab:8006/");
    }
    r.secretPresent(p, "apiToken", "proxmox.apiToken");
    const nodes = r.array(p.nodes, "proxmox.nodes").map((n, i): ProxmoxNode => {
        const key = `proxmox.nodes[${i}]`;
        const o = r.object(n, key);
        const physical = r.number(o, "physicalMemoryGiB", `${key}.physicalMemoryGiB`, 1);
        const committed = r.number(o, "committedMemoryGiB", `${key}.committedMemoryGiB`, 0);
        const reserve = r.number(o, "hostReserveGiB", `${key}.hostReserveGiB`, 0, DEFAULT_HOST_RESERVE_GIB);
        if (reserve >= physical) r.fail(`${key}.hostReserveGiB`, o.hostReserveGiB, `must be less than physicalMemoryGiB (${physical})`);
        return {
            name: r.string(o, "name", `${key}.name`),
            address: r.string(o, "address", `${key}.address`, endpointHost || undefined),
            physicalMemoryGiB: physical,
            committedMemoryGiB: committed,
            hostReserveGiB: reserve,
        };
    });
    if (nodes.length === 0 && Array.isArray(p.nodes)) r.fail("proxmox.nodes", p.nodes, "must list at least one Proxmox node");
    return {
        endpoint,
        insecure: r.boolean(p, "insecure", "proxmox.insecure", PROXMOX_DEFAULTS.insecure),
        templateVmId: r.integer(p, "templateVmId", "proxmox.templateVmId", 100, 999999999),
        bridge: r.string(p, "bridge", "proxmox.bridge"),
        vlanId: r.integer(p, "vlanId", "proxmox.vlanId", 1, 4094),
        datastore: r.string(p, "datastore", "proxmox.datastore"),
        snippetsDatastore: r.string(p, "snippetsDatastore", "proxmox.snippetsDatastore", PROXMOX_DEFAULTS.snippetsDatastore),
        sshUser: r.string(p, "sshUser", "proxmox.sshUser", PROXMOX_DEFAULTS.sshUser),
        nodes,
    };
}
