//go:build ignore

/* true.c: a static program that exits 0 at once, the target of the
 * fork+exec+wait micro workload. */
int main(void)
{
	return 0;
}
