// The CrossGuard pack served to the Pulumi CLI: pulumi preview --policy-pack policies
import { PolicyPack } from "@pulumi/policy";
import { PACK_NAME, policies } from "./pack";

new PolicyPack(PACK_NAME, { policies });
