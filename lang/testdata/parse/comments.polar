# A leading comment.

# Another, after a blank line.
actor User {} # trailing on a block line

resource R { # after the opening brace
  # before roles
  roles = ["a"]; # trailing a declaration
  # between items
  "a" if "a";
  # before the closing brace
}

f(x); # trailing a rule
# before a test
test "t" {
  # before the setup
  setup {
    # before a fact
    g(1); # trailing a fact
  }
  # before an assertion
  assert f(1); # trailing an assertion
  # at the end of the test
}

test fixture fx {
  g(2);
  # at the end of a fixture
}
# at the end of the file
