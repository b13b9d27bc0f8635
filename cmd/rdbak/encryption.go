package main

import (
	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/internal/app"
)

const identityFlagHelp = "age identity file (age-keygen output) or SSH private key that decrypts an encrypted backup; repeat it after a key rotation (each is tried); adds to the config's encryption.identityFile and identitySecret"

func addIdentityFlag(cmd *cobra.Command, files *[]string) {
	cmd.Flags().StringArrayVar(files, "identity-file", nil, identityFlagHelp)
}

// addEncryptFlags registers the ad hoc encryption of rdbak now and import.
func addEncryptFlags(cmd *cobra.Command, e *app.EncryptFlags) {
	f := cmd.Flags()
	f.StringArrayVar(&e.Recipients, "encrypt-recipient", nil, "encrypt the backup with age to this public key (age1... or ssh-ed25519/ssh-rsa); repeatable; replaces the config's encryption")
	f.StringVar(&e.RecipientsFile, "encrypt-recipients-file", "", "encrypt the backup with age to the public keys in this file, one a line")
}
