/**
 * The apiserver load balancer and the VIP's DNS name: phase 1 (VIP, frontend, pool with the
 * existing master, DNS record) and each new master's pool entry in phases 2 and 3.
 */
import * as pulumi from "@pulumi/pulumi";
import type { MasterSpec } from "../../topology";
import type { Phase } from "../phase";
import type { StackContext } from "../stackContext";
import { ApiserverDnsRecord } from "./dnsRecord";
import { ApiserverLoadBalancer } from "./apiserverLoadBalancer";
import { ApiserverPoolMember } from "./poolMember";
import { IpamRegistration } from "../ipam/ipamRegistration";

export { ApiserverDnsRecord } from "./dnsRecord";
export { ApiserverLoadBalancer } from "./apiserverLoadBalancer";
export { ApiserverPoolMember } from "./poolMember";

const registered = new WeakMap<StackContext, ApiserverLoadBalancer>();

/**
 * Phase 1: the load balancer, then the DNS name (so the name never points at a VIP nobody answers
 * on); with an `ipam` config, the VIP's and the new masters' addresses registered in phpIPAM.
 */
export function loadBalancerPhase(ctx: StackContext, phase: Phase): void {
    const { topology, secrets } = ctx;
    const lb = new ApiserverLoadBalancer("apiserver-lb", { topology, sshPrivateKey: secrets.sshPrivateKey }, phase.childOptions());
    new ApiserverDnsRecord("apiserver-dns", { topology, tsigSecret: secrets.dnsTsigSecret }, phase.childOptions([lb]));
    if (topology.ipam && secrets.ipamToken) {
        new IpamRegistration("ipam", { topology, ipam: topology.ipam, token: secrets.ipamToken }, phase.childOptions());
    }
    registered.set(ctx, lb);
}

/** The phase 1 load balancer of this stack, if phase 1 is registered (for later phases' checks). */
export function apiserverLoadBalancerOf(ctx: StackContext): ApiserverLoadBalancer | undefined {
    return registered.get(ctx);
}

/**
 * A new master's pool entry, after `gate` (its post-join gate): in the dependency graph the entry
 * depends on the gate, so a rollback takes the master out of the pool before the join's delete
 * removes its etcd member.
 */
export function addPoolMember(ctx: StackContext, phase: Phase, master: MasterSpec, gate: pulumi.Resource): ApiserverPoolMember {
    return new ApiserverPoolMember(`${master.name}-lb`, { topology: ctx.topology, master, sshPrivateKey: ctx.secrets.sshPrivateKey }, phase.childOptions([gate]));
}
