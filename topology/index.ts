/**
 * The pure layer: every rule once, for the program (components/), the offline plan (tools/) and
 * the policy pack (policies/). No Pulumi, no I/O. Its modules, each importing only those above it
 * (tests/architecture/imports.test.ts holds them to that):
 *   types.ts           every shape more than one module passes on; imports nothing
 *   rules              quorum, capacity, ip, phaseOrder, phases (import only types); kubeadm and
 *                      facts (formats the program and scripts share), kubernetesNames, errors,
 *                      secrets, mac, cloudinit; plan, failureDomains, unblock (built on the above)
 *   config/<key>.ts    one per Pulumi.yaml key: its defaults and its reader (config/reader.ts,
 *                      config/fields.ts: how values are read and checked)
 *   models             loadBalancer (the pool, its renderings, reading them back), clusterOps
 *                      (the cluster-wide phases' decisions), ipam
 *   config/index.ts    loadTopology: every key read, the rules between keys checked, frozen
 */
export * from "./types";
export * from "./capacity";
export * from "./clusterOps";
export * from "./cloudinit";
export * from "./config";
export * from "./config/cluster";
export * from "./config/controlPlaneFlags";
export * from "./config/cutover";
export * from "./config/dns";
export * from "./config/etcdMaintenance";
export * from "./config/ipam";
export * from "./config/kubeadm";
export * from "./config/kubernetesAccess";
export * from "./config/kubernetesVersion";
export * from "./config/kured";
export * from "./config/loadBalancer";
export * from "./config/masters";
export * from "./config/proxmox";
export * from "./config/reader";
export * from "./config/ssh";
export * from "./config/targetPhase";
export * from "./config/upgrade";
export * from "./config/workers";
export * from "./errors";
export * from "./facts";
export * from "./failureDomains";
export * from "./ip";
export * from "./ipam";
export * from "./mac";
export * from "./phases";
export * from "./quorum";
export * from "./plan";
export * from "./kubeadm";
export * from "./kubernetesNames";
export * from "./loadBalancer";
export * from "./phaseOrder";
export * from "./secrets";
export * from "./unblock";
