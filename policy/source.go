package policy

// From records where a loaded policy came from: source is one of
// store.PolicySourceUpload, store.PolicySourceFile or
// store.PolicySourceGit, commit the git commit hash of a policy from git.
// The stored version keeps both.
func From(source, commit string) LoadOption {
	return func(o *loadOptions) { o.source, o.commit = source, commit }
}
