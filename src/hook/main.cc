// Placeholder until the hook lands (issue 3).
int main() { return 0; }
