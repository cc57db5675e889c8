/**
 * IPv4 facts the config rules need, on top of ipaddr.js (a kept library) rather than hand-written
 * bit arithmetic.
 */
import * as ipaddr from "ipaddr.js";
import type { IPv4Range } from "./types";

export function isIPv4(value: string): boolean {
    return ipaddr.IPv4.isValidFourPartDecimal(value);
}

export function parseCidr(value: string): [ipaddr.IPv4, number] | undefined {
    if (!/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(value)) return undefined;
    try {
        const [addr, bits] = ipaddr.IPv4.parseCIDR(value);
        return [addr, bits];
    } catch {
        return undefined;
    }
}

export function inSubnet(ip: string, cidr: string): boolean {
    const range = parseCidr(cidr);
    if (!range || !isIPv4(ip)) return false;
    return ipaddr.IPv4.parse(ip).match(range);
}

export function prefixLength(cidr: string): number {
    const range = parseCidr(cidr);
    if (!range) throw new Error(`not an IPv4 CIDR: ${cidr}`);
    return range[1];
}

/** The address as an unsigned 32-bit number, for range comparisons. */
function toNumber(ip: string): number {
    return ipaddr.IPv4.parse(ip).toByteArray().reduce((acc, octet) => acc * 256 + octet, 0);
}

/** "10.0.20.200-10.0.20.220" or a CIDR such as "10.0.20.192/27" (MetalLB accepts both). */
export function parseRange(value: string): IPv4Range | undefined {
    const dash = value.split("-").map((s) => s.trim());
    if (dash.length === 2 && isIPv4(dash[0]) && isIPv4(dash[1])) {
        return toNumber(dash[0]) <= toNumber(dash[1]) ? { first: dash[0], last: dash[1] } : undefined;
    }
    const cidr = parseCidr(value);
    if (cidr) {
        const network = ipaddr.IPv4.networkAddressFromCIDR(value).toString();
        const broadcast = ipaddr.IPv4.broadcastAddressFromCIDR(value).toString();
        return { first: network, last: broadcast };
    }
    return undefined;
}

export function inRange(ip: string, range: IPv4Range): boolean {
    const n = toNumber(ip);
    return n >= toNumber(range.first) && n <= toNumber(range.last);
}

export function isNetworkOrBroadcast(ip: string, cidr: string): boolean {
    return (
        ipaddr.IPv4.networkAddressFromCIDR(cidr).toString() === ip ||
        ipaddr.IPv4.broadcastAddressFromCIDR(cidr).toString() === ip
    );
}

export interface NetworkFacts {
    readonly gateway?: string;
    readonly metallbPool?: IPv4Range;
    /** Addresses of nodes, with what they are (for the message). */
    readonly nodes?: readonly { readonly name: string; readonly ip: string }[];
}

/**
 * Why an address cannot be the apiserver VIP: the gateway (pfSense answers ARP for it), an
 * address MetalLB may hand to a Service, or a node's own address. Both the config validation and
 * the vip-conflicts policy ask this.
 */
export function vipConflicts(vip: string, facts: NetworkFacts): string[] {
    const out: string[] = [];
    if (facts.gateway && vip === facts.gateway) out.push(`it is the gateway ${facts.gateway}`);
    if (facts.metallbPool && isIPv4(vip) && inRange(vip, facts.metallbPool)) {
        out.push(`it is inside the MetalLB pool ${facts.metallbPool.first}-${facts.metallbPool.last}, so MetalLB could hand it to a Service`);
    }
    for (const node of facts.nodes ?? []) if (node.ip === vip) out.push(`it is the address of node ${node.name}`);
    return out;
}
