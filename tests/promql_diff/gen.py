"""Data for the differential check against Prometheus: counters with resets and
gaps, gauges, classic histograms, and series with NaN, Inf and long gaps, every
15s over 2h. Writes data.om (OpenMetrics, for promtool's backfill) and data.test
(a promqltest load block for our side)."""
import random, math
random.seed(7)
STEP=15; N=480
series=[]  # (name, labels dict, values list (None=missing))
def add(name, labels, vals): series.append((name, labels, vals))
for job in ["api","web"]:
    for inst in ["a","b","c"]:
        for code in ["200","500"]:
            v=0; vals=[]
            rate = random.uniform(0.5, 5) * (0.1 if code=="500" else 1)
            for i in range(N):
                if random.random() < 0.01: v = 0  # reset
                v += max(0, random.gauss(rate*STEP, rate))
                vals.append(None if random.random()<0.02 else round(v,3))
            add("req_total", {"job":job,"instance":inst,"code":code}, vals)
        vals=[round(1e6*random.uniform(1,2)+1e5*math.sin(i/20),1) for i in range(N)]
        add("mem_bytes", {"job":job,"instance":inst}, vals)
        add("up", {"job":job,"instance":inst}, [1 if random.random()>0.05 else 0 for i in range(N)])
    les=["0.05","0.1","0.25","0.5","1","2.5","+Inf"]
    cum=[0]*len(les); s=0; c=0
    bvals={le:[] for le in les}; svals=[]; cvals=[]
    for i in range(N):
        for k in range(random.randint(5,30)):
            x=random.expovariate(4)
            c+=1; s+=x
            for j,le in enumerate(les):
                if le=="+Inf" or x<=float(le): cum[j]+=1
        for j,le in enumerate(les): bvals[le].append(cum[j])
        svals.append(round(s,4)); cvals.append(c)
    for le in les: add("lat_seconds_bucket", {"job":job,"le":le}, bvals[le])
    add("lat_seconds_sum", {"job":job}, svals); add("lat_seconds_count", {"job":job}, cvals)

def lbl(name, d):
    return name+"{"+",".join('%s="%s"'%(k,v) for k,v in sorted(d.items()))+"}"
# edge series
edge=[("edge",{"kind":"nan"},[float('nan') if i%7==0 else i*0.5 for i in range(N)]),
      ("edge",{"kind":"inf"},[float('inf') if i%11==0 else -i*0.25 for i in range(N)]),
      ("edge",{"kind":"neg"},[-(i%13)-0.5 for i in range(N)]),
      ("edge",{"kind":"sparse"},[i if i%40<3 else None for i in range(N)])]
def fmt(v):
    if v!=v: return "NaN"
    if v==float('inf'): return "+Inf"
    if v==float('-inf'): return "-Inf"
    return repr(float(v))
with open("data.om","w") as f:
    for name,d,vals in series+edge:
        for i,v in enumerate(vals):
            if v is None: continue
            f.write("%s %s %d\n"%(lbl(name,d), fmt(v), i*STEP))
    f.write("# EOF\n")
with open("data.test","w") as f:
    f.write("load 15s\n")
    for name,d,vals in series+edge:
        f.write("  %s %s\n"%(lbl(name,d)," ".join("_" if v is None else fmt(v) for v in vals)))
