/**
 * Phase 1: the load balancer, then the DNS name (so the name never points at a VIP nobody answers
 * on); with an `ipam` config, the VIP's and the new masters' addresses registered in phpIPAM.
 * The new masters' pool entries come with each master (p2-p3-new-masters.ts).
 */
import { IpamRegistration, ipamRegistrationInputs } from "../ipam/ipamRegistration";
import { ApiserverLoadBalancer, loadBalancerInputs } from "../loadBalancer/apiserverLoadBalancer";
import { ApiserverDnsRecord, vipRecord } from "../loadBalancer/dnsRecord";
import type { PhaseInput, PhaseResults } from "./types";

export function loadBalancerPhase({ topology, secrets, phase }: PhaseInput): PhaseResults {
    const loadBalancer = new ApiserverLoadBalancer("apiserver-lb", { ...loadBalancerInputs(topology), sshPrivateKey: secrets.sshPrivateKey }, phase.childOptions());
    new ApiserverDnsRecord("apiserver-dns", { dns: topology.dns, record: vipRecord(topology.cluster), tsigSecret: secrets.dnsTsigSecret }, phase.childOptions([loadBalancer]));
    if (topology.ipam && secrets.ipamToken) {
        new IpamRegistration("ipam", { ipam: topology.ipam, ...ipamRegistrationInputs(topology), token: secrets.ipamToken }, phase.childOptions());
    }
    return { loadBalancer };
}
