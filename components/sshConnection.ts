import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";

/** How remote commands reach a host: the stack's SSH user and secret key. */
export function sshConnection(host: string, user: string, privateKey: pulumi.Output<string>): command.types.input.remote.ConnectionArgs {
    return { host, user, privateKey, dialErrorLimit: 30, perDialTimeout: 10 };
}
