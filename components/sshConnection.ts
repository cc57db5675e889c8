import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";

/** How long remote commands keep dialing a host that does not answer yet (a test varies them). */
export const SSH_DIAL = { dialErrorLimit: 30, perDialTimeout: 10 };

/** How remote commands reach a host: the stack's SSH user and secret key, SSH_DIAL's dialling unless `dial` says otherwise. */
export function sshConnection(host: string, user: string, privateKey: pulumi.Output<string>, dial: Partial<typeof SSH_DIAL> = {}): command.types.input.remote.ConnectionArgs {
    return { host, user, privateKey, ...SSH_DIAL, ...dial };
}
