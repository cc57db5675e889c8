/**
 * Phase 1: the load balancer, then the DNS name (so the name never points at a VIP nobody answers
 * on); with an `ipam` config, the VIP's and the new masters' addresses registered in phpIPAM.
 * The new masters' pool entries come with each master (p2-p3-new-masters.ts).
 */
import { IpamRegistration } from "../ipam/ipamRegistration";
import { ApiserverLoadBalancer } from "../loadBalancer/apiserverLoadBalancer";
import { ApiserverDnsRecord } from "../loadBalancer/dnsRecord";
import type { PhaseInput, PhaseResults } from "./types";

export function loadBalancerPhase({ topology, secrets, phase }: PhaseInput): PhaseResults {
    const loadBalancer = new ApiserverLoadBalancer("apiserver-lb", { topology, sshPrivateKey: secrets.sshPrivateKey }, phase.childOptions());
    new ApiserverDnsRecord("apiserver-dns", { topology, tsigSecret: secrets.dnsTsigSecret }, phase.childOptions([loadBalancer]));
    if (topology.ipam && secrets.ipamToken) {
        new IpamRegistration("ipam", { topology, ipam: topology.ipam, token: secrets.ipamToken }, phase.childOptions());
    }
    return { loadBalancer };
}
