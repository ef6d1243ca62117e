package testprogs

//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem verdict_aborted verdictAborted ../../testdata/verdict.c -- -I../../bpf/include -DVERDICT=XDP_ABORTED
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem verdict_drop verdictDrop ../../testdata/verdict.c -- -I../../bpf/include -DVERDICT=XDP_DROP
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem verdict_pass verdictPass ../../testdata/verdict.c -- -I../../bpf/include -DVERDICT=XDP_PASS
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem verdict_tx verdictTx ../../testdata/verdict.c -- -I../../bpf/include -DVERDICT=XDP_TX
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem verdict_redirect verdictRedirect ../../testdata/verdict.c -- -I../../bpf/include -DVERDICT=XDP_REDIRECT
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem verdict_invalid verdictInvalid ../../testdata/verdict.c -- -I../../bpf/include -DVERDICT=7
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem noop noop ../../testdata/noop.c -- -I../../bpf/include
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem costly costly ../../testdata/costly.c -- -I../../bpf/include
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem counter counter ../../testdata/counter.c -- -I../../bpf/include
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem dropport dropport ../../testdata/dropport.c -- -I../../bpf/include
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem adjust adjust ../../testdata/adjust.c -- -I../../bpf/include
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem bad bad ../../testdata/bad.c -- -I../../bpf/include
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem multi multi ../../testdata/multi.c -- -I../../bpf/include
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem runconfig runconfig ../../testdata/runconfig.c -- -I../../bpf/include
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem monolithic1 monolithic1 ../../testdata/monolithic.c -- -I../../bpf/include -DN=1
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem monolithic4 monolithic4 ../../testdata/monolithic.c -- -I../../bpf/include -DN=4
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem monolithic10 monolithic10 ../../testdata/monolithic.c -- -I../../bpf/include -DN=10
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem monolithic16 monolithic16 ../../testdata/monolithic.c -- -I../../bpf/include -DN=16
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem monolithic64 monolithic64 ../../testdata/monolithic.c -- -I../../bpf/include -DN=64
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem monolithic_inline1 monolithicInline1 ../../testdata/monolithic.c -- -I../../bpf/include -DN=1 -DINLINE=1
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem monolithic_inline4 monolithicInline4 ../../testdata/monolithic.c -- -I../../bpf/include -DN=4 -DINLINE=1
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem monolithic_inline10 monolithicInline10 ../../testdata/monolithic.c -- -I../../bpf/include -DN=10 -DINLINE=1
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem monolithic_inline16 monolithicInline16 ../../testdata/monolithic.c -- -I../../bpf/include -DN=16 -DINLINE=1
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem monolithic_inline64 monolithicInline64 ../../testdata/monolithic.c -- -I../../bpf/include -DN=64 -DINLINE=1
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem monolithic_udp1 monolithicUdp1 ../../testdata/monolithic.c -- -I../../bpf/include -DN=1 -DUDP=1
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem monolithic_udp4 monolithicUdp4 ../../testdata/monolithic.c -- -I../../bpf/include -DN=4 -DUDP=1
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem monolithic_udp10 monolithicUdp10 ../../testdata/monolithic.c -- -I../../bpf/include -DN=10 -DUDP=1
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem monolithic_udp16 monolithicUdp16 ../../testdata/monolithic.c -- -I../../bpf/include -DN=16 -DUDP=1
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem monolithic_udp64 monolithicUdp64 ../../testdata/monolithic.c -- -I../../bpf/include -DN=64 -DUDP=1
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem monolithic_udp_inline1 monolithicUdpInline1 ../../testdata/monolithic.c -- -I../../bpf/include -DN=1 -DUDP=1 -DINLINE=1
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem monolithic_udp_inline4 monolithicUdpInline4 ../../testdata/monolithic.c -- -I../../bpf/include -DN=4 -DUDP=1 -DINLINE=1
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem monolithic_udp_inline10 monolithicUdpInline10 ../../testdata/monolithic.c -- -I../../bpf/include -DN=10 -DUDP=1 -DINLINE=1
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem monolithic_udp_inline16 monolithicUdpInline16 ../../testdata/monolithic.c -- -I../../bpf/include -DN=16 -DUDP=1 -DINLINE=1
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem monolithic_udp_inline64 monolithicUdpInline64 ../../testdata/monolithic.c -- -I../../bpf/include -DN=64 -DUDP=1 -DINLINE=1
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem udp udp ../../testdata/udp.c -- -I../../bpf/include
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem tailcall tailcall ../../testdata/tailcall.c -- -I../../bpf/include
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem tailcall_udp tailcallUdp ../../testdata/tailcall.c -- -I../../bpf/include -DUDP=1
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem reflect reflect ../../testdata/reflect.c -- -I../../bpf/include
