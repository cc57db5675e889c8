/**
 * Phase 1.1's IPAM registration (seed: "phpIPAM: register 10.0.20.99 under section K8s
 * cluster"): the VIP and the new masters' addresses, recorded in phpIPAM through its REST API by
 * scripts/ipam/phpipam-address.sh. Its config, key `ipam`, is topology/config/ipam.ts's.
 */
import type { ClusterConfig, MasterSpec } from "./types";

/** An address this stack registers, and what it says about it. */
export interface IpamAddress {
    /** A short name for the resource (vip, or the master's name). */
    readonly key: string;
    readonly ip: string;
    readonly hostname: string;
    readonly description: string;
}

/** The VIP and every new master's address, with the owner's marker in each description. */
export function ipamAddresses(cluster: ClusterConfig, newMasters: readonly MasterSpec[], marker: string): IpamAddress[] {
    return [
        { key: "vip", ip: cluster.vip, hostname: cluster.apiserverFqdn, description: `Kubernetes apiserver VIP ${marker}` },
        ...newMasters.map((m) => ({ key: m.name, ip: m.ip, hostname: `${m.name}.${cluster.domain}`, description: `Kubernetes control-plane node ${m.name} ${marker}` })),
    ];
}

