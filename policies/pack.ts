/**
 * Every policy of the pack, as plain objects: the CLI's pack (index.ts), the offline plan and
 * the specs all use this list, so there is one definition of each rule.
 */
import { Policies } from "@pulumi/policy";
import { etcdQuorum, etcdQuorumTransition } from "./etcdQuorum";
import { ramHeadroom } from "./ramHeadroom";

export const PACK_NAME = "ha-control-plane";

export const policies: Policies = [ramHeadroom, etcdQuorum, etcdQuorumTransition];
