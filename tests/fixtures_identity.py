"""Identity fixtures (users, tokens, agencies) shared by every capability's tests."""
